// Starts Swagger UI on /api/docs. A file of its own, not an inline script: the docs page's
// Content-Security-Policy runs scripts of the back-office's origin only (backoffice/security_headers.py).
window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", withCredentials: true });
