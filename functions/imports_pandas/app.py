"""Init imports pandas, a heavy dependency: compare its Init Duration with hello's."""

import pandas  # noqa: F401  (the import is the point: it happens during Init)


def handler(event, context):
    return {"imported": "pandas"}
