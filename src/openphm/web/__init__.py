"""The dashboard (``openphm serve``): published tables behind sign-in and roles.

``create_app(workspace)`` returns the FastAPI app; ``serve`` runs it with uvicorn.
Accounts live in the workspace (``accounts.Accounts``), sessions and CSRF in
``security``, filters in ``filters``, and the two views that read the warehouse (a
care team's cohort list, analysts' cohort profiles) in ``cohort``.
"""

from openphm.web.app import create_app
from openphm.web.serve import LOOPBACK, serve

__all__ = ["LOOPBACK", "create_app", "serve"]
