from tests.reports.conftest import dataset

__all__ = ["dataset"]
