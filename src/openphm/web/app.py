"""The dashboard: a FastAPI app over the published tables, with sign-in and roles.

Pages (HTML) and a JSON API over the same data:

- ``/`` and ``/api/summary``: the headline figures, filtered by place, practice, period
  and group; ``/tables/{name}`` and ``/api/tables/{name}``: any published table, filtered.
  Everyone, signed in or not, can read these: they are the published aggregates.
- ``/cohort-profile`` (analysts): the risk cohort by practice and tier, gated on the fly.
- ``/care-team`` (care-team users): their own practice's pseudonymised cohort list, never
  another's; every view is appended to the audit trail.

Nothing row-level goes in a URL (the care team's practice comes from the account, not
the address) or in a log: the access log prints method, path (never the query
string), status and time. A bad parameter is a 400 saying what was wrong; an error
in the code is a 500 with a plain message, never a stack trace.
"""

from __future__ import annotations

import getpass
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.exceptions import HTTPException

import openphm
from openphm.governance import IdsRefused, require_direct_care
from openphm.report import blocks as b
from openphm.report.notes import notes_section
from openphm.report.published import TOTAL, Published, PublishedTable, read_published
from openphm.report.sections import generic
from openphm.runner import code_version
from openphm.web import cohort, filters
from openphm.web.accounts import ANALYST, ANONYMOUS, CARE_TEAM, Accounts, User
from openphm.web.guard import ACCOUNT_LOCKED, ALL_LOCKED, BUSY, LOCKOUT_SECONDS, SignInGuard
from openphm.web.security import (
    CSRF_FIELD,
    HSTS,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Sessions,
    csrf_ok,
    session_key,
)
from openphm.workspace import Workspace


@dataclass(frozen=True)
class TableQuery:
    """Filters and paging of a table page or API call."""

    filters: filters.Filters
    limit: int
    offset: int


log = logging.getLogger("openphm.web")
access_log = logging.getLogger("openphm.web.access")
TEMPLATES = Path(__file__).parent / "templates"
RELOAD_SECONDS = 2.0  # how often the published folder is checked for new files
CACHE_ENTRIES = 256  # charts and filtered results kept, by table, filters and publication
PAGE_ROWS = 100
INDICATOR_PREFIX = "indicator_"
SUMMARY_EXCLUDED = {
    "indicator_definitions",
    "indicator_dsr",
    "indicator_funnel",
    "indicator_spc",
    "indicator_intervals",
}


class PublishedCache:
    """The published tables, read again when a file in published/ changes."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._signature: tuple = ()
        self._checked = 0.0
        self._published = Published({}, directory)

    def _current_signature(self) -> tuple:
        # The live set's folder: a new set is a new folder (publish/sets.py).
        folder = self.directory.resolve()
        try:
            files = tuple(
                (p.name, p.stat().st_mtime_ns, p.stat().st_size)
                for p in sorted(folder.glob("*.csv"))
            )
        except FileNotFoundError:  # switched and removed while listed: look again next time
            return ()
        return (folder.name, *files)

    def get(self) -> Published:
        now = time.monotonic()
        if now - self._checked > RELOAD_SECONDS:
            self._checked = now
            signature = self._current_signature()
            if signature != self._signature:
                self._published = read_published(self.directory)
                self._signature = signature
        return self._published

    @property
    def signature(self) -> tuple:
        return self._signature


REFUSALS = {
    ACCOUNT_LOCKED: f"too many failed sign-ins for this account; wait {LOCKOUT_SECONDS // 60} "
    "minutes, or ask the workspace's owner to check the account",
    ALL_LOCKED: "too many failed sign-ins on this dashboard; sign-in is paused for a few "
    "minutes, and its owner has been told in the log",
    BUSY: "the dashboard is busy checking other sign-ins; try again in a moment",
}


@dataclass
class Settings:
    root: Path
    secure_cookies: bool = True


def create_app(root: Path | str, *, secure_cookies: bool = True) -> FastAPI:
    """The dashboard for the workspace at ``root``.

    ``secure_cookies`` marks the session cookie Secure (sent over https only); turn it off
    only to serve plain http on a loopback address (tests, one person's laptop).
    """
    ws = Workspace(root)  # checks the folder is a workspace; opens no warehouse
    settings = Settings(ws.root, secure_cookies)
    accounts = Accounts(ws.root)
    sessions = Sessions(session_key(ws.root), secure=secure_cookies)
    published = PublishedCache(ws.published_dir)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["figure"] = lambda x: isinstance(x, b.Figure)
    env.tests["table"] = lambda x: isinstance(x, b.Table)
    charts: OrderedDict[tuple, list] = OrderedDict()
    guard = SignInGuard(ws.root)
    app = FastAPI(title="openphm dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings

    # --- plumbing: sessions, headers, access log, errors ----------------------------------

    @app.middleware("http")
    async def plumbing(request: Request, call_next):
        started = time.perf_counter()
        session = sessions.load(request.cookies.get(SESSION_COOKIE))
        if session is not None and guard.revoked(session["sid"]):
            session = None  # signed out: the cookie no longer opens anything
        fresh = session is None
        request.state.session = session or sessions.new()
        request.state.new_session = fresh
        try:
            response = await call_next(request)
        except Exception as exc:  # a bug: a plain message, and the type (not the data) logged
            log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
            response = _error(
                request,
                500,
                "Something went wrong on the server. The error has "
                "been logged; please try again or tell the dashboard's owner.",
            )
        for k, v in (SECURITY_HEADERS | (HSTS if secure_cookies else {})).items():
            response.headers.setdefault(k, v)
        response.headers.setdefault("Cache-Control", "no-store")
        if request.state.new_session:
            response.set_cookie(
                SESSION_COOKIE, sessions.dump(request.state.session), **sessions.cookie_options()
            )
        access_log.info(
            "%s %s %s %.1fms",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def _is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def _error(request: Request, status: int, message: str):
        if _is_api(request):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        user = getattr(request.state, "user", ANONYMOUS)
        html = env.get_template("error.html").render(
            **_common(request, user), status=status, message=message
        )
        return HTMLResponse(html, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 401 and not _is_api(request):
            return RedirectResponse("/signin", status_code=303)
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError):
        problems = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ())[1:]) or "request"
            problems.append(f"{where}: {e.get('msg', 'invalid')}")
        return _error(request, 400, "Bad parameter. " + "; ".join(problems))

    # --- who is asking ----------------------------------------------------------------------

    def user_of(request: Request) -> User:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            user = accounts.by_token(auth[7:].strip())
            if user is None:
                raise HTTPException(401, "the API token is not valid (or was revoked)")
        else:
            session = request.state.session
            name = session.get("u")
            user = accounts.get(name, issued=session["t"]) if name else None
            user = user or ANONYMOUS
        request.state.user = user
        return user

    def require(request: Request, role: str) -> User:
        user = user_of(request)
        if not user.name:
            raise HTTPException(401, "sign in to see this page")
        if user.role != role:
            raise HTTPException(
                403,
                f"this page is for {role.replace('_', ' ')} accounts; you are signed in "
                f"as {user.role.replace('_', ' ')}",
            )
        return user

    def _common(request: Request, user: User) -> dict[str, Any]:
        return {
            "user": user,
            "csrf": request.state.session["csrf"],
            "csrf_field": CSRF_FIELD,
            "version": openphm.__version__,
        }

    def page(request: Request, template: str, **context) -> HTMLResponse:
        user = getattr(request.state, "user", None) or user_of(request)
        return HTMLResponse(env.get_template(template).render(**_common(request, user), **context))

    def form_filters(place, practice, period, group) -> filters.Filters:
        try:
            return filters.Filters(
                place=filters.check_value("place", place),
                practice=filters.check_value("practice", practice),
                period=filters.check_value("period", period),
                group=filters.check_value("group", group),
            )
        except filters.FilterError as exc:
            raise HTTPException(400, str(exc)) from None

    def table_or_404(name: str) -> PublishedTable:
        pub = published.get()
        if name not in pub:
            raise HTTPException(
                404, f"no published table {name!r}; the published tables are listed at /tables"
            )
        return pub[name]

    def filtered(pt: PublishedTable, f: filters.Filters) -> pd.DataFrame:
        try:
            return filters.apply(pt, f)
        except filters.FilterError as exc:
            raise HTTPException(400, str(exc)) from None

    def cached(key: tuple, make):
        key = (published.signature, *key)
        if key in charts:
            charts.move_to_end(key)
            return charts[key]
        value = make()
        charts[key] = value
        if len(charts) > CACHE_ENTRIES:
            charts.popitem(last=False)
        return value

    # --- the headline page ------------------------------------------------------------------

    def summary(f: filters.Filters) -> dict[str, Any]:
        pub = published.get()
        out: dict[str, Any] = {"indicators": [], "population": None, "periods": []}
        ind_names = [n for n in pub if n.startswith(INDICATOR_PREFIX) and n not in SUMMARY_EXCLUDED]
        if ind_names:
            first = pub[ind_names[0]].frame
            years = sorted(set(first.loc[first["period_type"] == "year", "period"]))
            out["periods"] = years
            period = f.period or (years[-1] if years else None)
            if f.period and f.period not in years:
                raise HTTPException(
                    400,
                    f"period {f.period!r} is not a published financial year; the years "
                    f"are {', '.join(years)}",
                )
            if f.practice:
                breakdown, group = "practice", f.practice
            elif f.place:
                breakdown, group = "place", f.place
            elif f.group:
                breakdown, group = f.group, None
            else:
                breakdown, group = "ics", TOTAL
            for name in ind_names:
                pt = pub[name]
                fr = pt.frame
                rows = fr[
                    (fr["period_type"] == "year")
                    & (fr["period"] == period)
                    & (fr["breakdown"] == breakdown)
                ]
                if group is not None:
                    rows = rows[rows["group_code"] == group]
                if "org_basis" in rows and (rows["org_basis"] == "current").any():
                    rows = rows[rows["org_basis"].isin(["current", "not_applicable"])]
                for r in rows.itertuples(index=False):
                    out["indicators"].append(
                        {
                            "indicator": name.removeprefix(INDICATOR_PREFIX),
                            "period": period,
                            "breakdown": breakdown,
                            "group_code": r.group_code,
                            "numerator": r.numerator,
                            "denominator": r.denominator,
                            "value": b.format_value(r.value),
                        }
                    )
            out["period"] = period
            out["breakdown"] = breakdown
        if "registered_population" in pub:
            pt = pub["registered_population"]
            who = f.practice if f.practice else TOTAL
            fr = pt.frame
            if who not in set(fr["practice_code"]):
                raise HTTPException(
                    400,
                    f"practice {who!r} is not in registered_population; it has "
                    f"{filters._known(fr['practice_code'])}",
                )
            rows = fr[
                (fr["practice_code"] == who)
                & (fr["age_band"] != TOTAL)
                & fr["sex"].isin(["1", "2"])
            ]
            out["population"] = {
                "practice": who,
                "rows": rows[["age_band", "sex", "population"]].to_dict(orient="records"),
            }
        return out

    def known_filters() -> dict[str, list[str]]:
        pub = published.get()
        opts: dict[str, list[str]] = {"place": [], "practice": [], "period": [], "group": []}
        for name in ("indicator_emergency_admissions", "registered_population"):
            if name in pub:
                for k in opts:
                    opts[k] = sorted(set(opts[k]) | set(filters.options(pub[name], k)))
        opts["period"] = [p for p in opts["period"] if "/" in p]  # financial years
        return opts

    def query_filters(
        place: str | None = None,
        practice: str | None = None,
        period: str | None = None,
        group: str | None = None,
    ) -> filters.Filters:
        """The filters of a page or API call, from its query string."""
        return form_filters(place, practice, period, group)

    @app.get("/", response_class=HTMLResponse)
    def home(
        request: Request,
        f: filters.Filters = Depends(query_filters),  # noqa: B008 (FastAPI's idiom)
    ):
        user_of(request)
        data = cached(("summary", f), lambda: summary(f))
        figure = None
        pop = data["population"]
        if pop and pop["rows"]:
            figure = cached(("pyramid", pop["practice"]), lambda: _pyramid(pop))
        return page(
            request,
            "home.html",
            data=data,
            figure=figure,
            filters=f,
            options=cached(("filters",), known_filters),
            not_done=cached(("not_done",), lambda: notes_section(published.get())),
        )

    def _pyramid(pop: dict):
        from openphm.report import charts as ch
        from openphm.report.sections import _age_order

        frame = pd.DataFrame(pop["rows"])
        frame["population"] = pd.to_numeric(frame["population"], errors="coerce")
        frame = frame.dropna(subset=["population"])
        if frame.empty:
            return None
        order = _age_order(frame["age_band"])
        label = "all practices" if pop["practice"] == TOTAL else f"practice {pop['practice']}"
        return ch.render(
            ch.pyramid(frame, age="age_band", sex="sex", value="population", order=order),
            f"Age-sex pyramid of the registered population of {label}, males left, females "
            "right; the table on the page holds the figures.",
        )

    @app.get("/api/summary")
    def api_summary(
        request: Request,
        f: filters.Filters = Depends(query_filters),  # noqa: B008 (FastAPI's idiom)
    ):
        user_of(request)
        return cached(("summary", f), lambda: summary(f))

    # --- any published table ---------------------------------------------------------------

    @app.get("/tables", response_class=HTMLResponse)
    def tables(request: Request):
        pub = published.get()
        listing = [(n, len(pub[n].frame), pub[n].counts) for n in pub]
        return page(request, "tables.html", tables=listing)

    @app.get("/api/tables")
    def api_tables(request: Request):
        user_of(request)
        pub = published.get()
        return {
            "tables": [
                {
                    "name": n,
                    "rows": len(pub[n].frame),
                    "columns": pub[n].visible_columns,
                    "counts": list(pub[n].counts),
                }
                for n in pub
            ]
        }

    def table_query(
        f: filters.Filters = Depends(query_filters),  # noqa: B008 (FastAPI's idiom)
        limit: int = PAGE_ROWS,
        offset: int = 0,
    ) -> TableQuery:
        """The query string of a table page or API call, checked (a 400 says what is wrong)."""
        if not 1 <= limit <= filters.MAX_LIMIT:
            raise HTTPException(400, f"limit must be from 1 to {filters.MAX_LIMIT}; got {limit}")
        if offset < 0:
            raise HTTPException(400, f"offset must be 0 or more; got {offset}")
        return TableQuery(f, limit, offset)

    @app.get("/tables/{name}", response_class=HTMLResponse)
    def table_page(
        request: Request,
        name: str,
        q: TableQuery = Depends(table_query),  # noqa: B008 (FastAPI's idiom)
    ):
        user_of(request)
        f, limit, offset = q.filters, q.limit, q.offset
        pt = table_or_404(name)
        rows = filtered(pt, f)
        sub = PublishedTable(pt.name, rows.reset_index(drop=True), pt.decisions)
        blocks = cached(("table", name, tuple(sorted(f.given().items()))), lambda: generic(sub))
        figures = [x for x in blocks if isinstance(x, b.Figure)]
        table = b.table_of(sub, sub.frame.iloc[offset : offset + limit], caption=name, limit=limit)
        return page(
            request,
            "table.html",
            name=name,
            table=table,
            figures=figures,
            filters=f,
            options=cached(
                ("options", name), lambda: {k: filters.options(pt, k) for k in filters.FILTERS}
            ),
            total=len(rows),
            offset=offset,
            limit=limit,
        )

    @app.get("/api/tables/{name}")
    def api_table(
        request: Request,
        name: str,
        q: TableQuery = Depends(table_query),  # noqa: B008 (FastAPI's idiom)
    ):
        user_of(request)
        f, limit, offset = q.filters, q.limit, q.offset

        def answer() -> bytes:
            pt = table_or_404(name)
            rows = filtered(pt, f)
            shown = rows.iloc[offset : offset + limit][pt.visible_columns]
            return json.dumps(
                {
                    "table": name,
                    "columns": pt.visible_columns,
                    "counts": list(pt.counts),
                    "total_rows": len(rows),
                    "offset": offset,
                    "rows": shown.to_dict(orient="records"),
                }
            ).encode()

        body = cached(("api_table", name, f, limit, offset), answer)
        return Response(body, media_type="application/json")

    # --- sign in and out -------------------------------------------------------------------

    @app.get("/signin", response_class=HTMLResponse)
    def signin_page(request: Request):
        return page(request, "signin.html", message=None)

    @app.post("/signin")
    def signin(
        request: Request,
        username: str = Form(""),
        password: str = Form(""),
        csrf_token: str = Form(""),
    ):
        if not csrf_ok(request.state.session, csrf_token):
            raise HTTPException(
                403,
                "the form had expired or did not come from this site; "
                "reload the sign-in page and try again",
            )
        name = username.strip()
        with guard.attempt(name) as attempt:
            if attempt.refused:
                log.warning("sign-in refused (%s locked or busy)", attempt.refused)
                raise HTTPException(429, REFUSALS[attempt.refused])
            user = accounts.authenticate(name, password)
            if user is not None:
                attempt.succeeded()
        if user is None:
            # Never the password, nor a name nobody has (it may be a password typed there).
            known = accounts.get(name) is not None
            log.warning("failed sign-in for %s", f"account {name}" if known else "an unknown name")
            request.state.user = ANONYMOUS
            html = env.get_template("signin.html").render(
                **_common(request, ANONYMOUS),
                message="That user name and password do not match an account.",
            )
            return HTMLResponse(html, status_code=401)
        request.state.session = sessions.new(user.name)  # a new CSRF token too
        request.state.new_session = True
        log.info("sign-in: %s (%s)", user.name, user.role)
        target = {CARE_TEAM: "/care-team", ANALYST: "/cohort-profile"}.get(user.role, "/")
        return RedirectResponse(target, status_code=303)

    @app.post("/signout")
    def signout(request: Request, csrf_token: str = Form("")):
        if not csrf_ok(request.state.session, csrf_token):
            raise HTTPException(
                403,
                "the form had expired or did not come from this site; "
                "reload the page and try again",
            )
        ended = request.state.session
        guard.revoke(ended["sid"], until=ended["t"] + SESSION_SECONDS)
        request.state.session = sessions.new()
        request.state.new_session = True
        return RedirectResponse("/", status_code=303)

    # --- analysts: cohort profiles ---------------------------------------------------------

    def profile() -> pd.DataFrame:
        return cached(
            ("cohort_profile", _catalog_entry(settings.root)),
            lambda: cohort.cohort_profile(settings.root),
        )

    @app.get("/cohort-profile", response_class=HTMLResponse)
    def cohort_profile_page(request: Request):
        require(request, ANALYST)
        try:
            frame = profile()
        except cohort.NotRun as exc:
            return page(request, "cohort_profile.html", rows=None, message=str(exc))
        return page(
            request, "cohort_profile.html", rows=frame.to_dict(orient="records"), message=None
        )

    @app.get("/api/cohort-profile")
    def api_cohort_profile(request: Request):
        require(request, ANALYST)
        try:
            frame = profile()
        except cohort.NotRun as exc:
            raise HTTPException(404, str(exc)) from None
        return {
            "table": "cohort_profile",
            "counts": ["people"],
            "rows": frame.to_dict(orient="records"),
        }

    # --- care teams: their own practice's cohort list, audited -----------------------------

    def care_list(user: User, via: str) -> cohort.CohortList:
        gov = ws.config.governance
        try:
            require_direct_care(gov, "the care-team list")
        except IdsRefused as exc:
            raise HTTPException(403, str(exc)) from None
        result = cohort.care_team_list(settings.root, user.practice or "")
        ws.audit.append(
            {
                "action": "view:care_team_cohort",
                "user": user.name,
                "system_user": getpass.getuser(),
                "role": user.role,
                "practice": user.practice,
                "via": via,
                "rows_shown": len(result.rows),
                "purpose": gov.purpose,
                "lawful_basis": gov.lawful_basis,
                "controller": gov.controller,
                "code_version": code_version(),
            }
        )
        return result

    @app.get("/care-team", response_class=HTMLResponse)
    def care_team_page(request: Request):
        user = require(request, CARE_TEAM)
        try:
            result = care_list(user, "page")
        except cohort.NotRun as exc:
            return page(request, "care_team.html", result=None, message=str(exc))
        return page(request, "care_team.html", result=result, message=None)

    @app.get("/api/care-team/cohort")
    def api_care_team(request: Request):
        user = require(request, CARE_TEAM)
        try:
            result = care_list(user, "api")
        except cohort.NotRun as exc:
            raise HTTPException(404, str(exc)) from None
        return {
            "practice": result.practice,
            "columns": list(result.columns),
            "total": result.total,
            "rows": [dict(zip(result.columns, r, strict=True)) for r in result.rows],
        }

    # --- static -------------------------------------------------------------------------------

    css = (TEMPLATES / "app.css").read_text()

    @app.get("/static/app.css")
    def stylesheet():
        return PlainTextResponse(
            css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    return app


def _catalog_entry(root: Path) -> str:
    """When the risk scores' snapshot was last replaced, so a new risk run refreshes the
    profile."""
    try:
        return str(cohort.snapshot_path(root).stat().st_mtime_ns)
    except FileNotFoundError:
        return ""
