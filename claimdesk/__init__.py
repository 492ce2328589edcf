"""The composition root: the `claimdesk` command, which starts and wires the parts (`bot`,
`backoffice`, the delivery worker) over the domain core (`shared`). Nothing imports this package."""
