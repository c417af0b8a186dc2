"""Parse a rollback request and decide its type from the severity x impact matrix (pure)."""

from __future__ import annotations

import difflib
import re

from pydantic import BaseModel

from bot.errors import UsageError
from bot.rollback.config import IMPACTS, SEVERITIES, Cell, RollbackConfig
from bot.words import OPTION

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")
SEV_NUMBERS = {"1": "critical", "2": "high", "3": "medium", "4": "low"}
OPTIONS = ("severity", "sev", "impact", "to", "at", "components", "type")
USAGE = ("/rollback PRODUCT [VERSION] severity=critical|high|medium|low "
         "impact=widespread|limited|minimal [to=VERSION] [at=ISO] [components=a,b] [type=config] "
         "reason...")


class Request(BaseModel):
    """What the requester asked for, validated."""

    product: str
    severity: str
    impact: str
    version: str | None = None
    to: str | None = None
    at: str | None = None
    components: tuple[str, ...] = ()
    config: bool = False
    reason: str


class Decision(BaseModel):
    """The matrix cell chosen and why, in words a release manager can check."""

    request: Request
    cell: Cell
    why: str


def split_request(words: list[str]) -> tuple[list[str], dict[str, str]]:
    """Positional words and options of ``/rollback`` text. The reason is free text, so an
    unknown ``key=value`` ("latency=4s") is part of it, unless it looks like a misspelt
    option ("sevrity=1"), which is refused rather than silently ignored."""
    args: list[str] = []
    opts: dict[str, str] = {}
    for w in words:
        m = OPTION.match(w)
        key = m.group(1).lower() if m else ""
        if m and key in OPTIONS:
            if key in opts and opts[key] != m.group(2):
                raise UsageError(f"{key}= is given twice ({opts[key]} and {m.group(2)}); "
                                 "give it once")
            opts[key] = m.group(2)
        elif m and (near := difflib.get_close_matches(key, OPTIONS, 1, 0.75)):
            raise UsageError(f"unknown option {key}=; did you mean {near[0]}=?")
        else:
            args.append(w)
    return args, opts


def parse_request(args: list[str], opts: dict[str, str]) -> Request:
    """``args`` are positional words (product, optional version, reason); ``opts`` key=value."""
    if not args:
        raise UsageError("which product? name it first, then the options and the reason")
    sev = opts.get("severity") or opts.get("sev")
    if opts.get("severity") and opts.get("sev") and \
            SEV_NUMBERS.get(opts["sev"], opts["sev"]).lower() != opts["severity"].lower():
        raise UsageError(f"severity={opts['severity']} and sev={opts['sev']} disagree; give one")
    if sev is None:
        raise UsageError("severity is required (severity=critical|high|medium|low or "
                         "sev=1..4)")
    sev = SEV_NUMBERS.get(sev, sev).lower()
    if sev not in SEVERITIES:
        raise UsageError(f"severity={sev!r} must be one of {', '.join(SEVERITIES)} or 1..4")
    impact = (opts.get("impact") or "").lower()
    if not impact:
        raise UsageError(f"impact is required (impact={'|'.join(IMPACTS)})")
    if impact not in IMPACTS:
        raise UsageError(f"impact={impact!r} must be one of {', '.join(IMPACTS)}")
    product, rest = args[0], args[1:]
    version = None
    if rest and _VERSION.match(rest[0]):  # "500s from workers" is a reason, not a version
        version, rest = rest[0].lstrip("v"), rest[1:]
    reason = " ".join(rest).strip()
    if not reason:
        raise UsageError("a reason is required: say what is broken")
    comps = tuple(c.strip() for c in (opts.get("components") or "").split(",") if c.strip())
    bad = [c for c in comps if not _NAME.match(c)]
    if bad:
        raise UsageError(f"components={bad[0]!r}: a component is a name like api or worker-eu")
    to = opts.get("to")
    if to is not None and not (_VERSION.match(to) or (kind_asked(opts) and _REF.match(to))):
        raise UsageError(f"to={to!r} must be a version like 1.3.0"
                         + (" or a git ref" if kind_asked(opts) else ""))
    kind = (opts.get("type") or "").lower()
    if kind not in ("", "config"):
        raise UsageError(f"type={kind!r}: only type=config can be asked for; the matrix "
                         "decides between immediate, planned and partial")
    if kind == "config" and opts.get("at"):
        raise UsageError("at= does not apply to a config rollback: it runs when its dry-run "
                         "is approved; leave at= out")
    unknown = sorted(set(opts) - set(OPTIONS))
    if unknown:
        raise UsageError(f"unknown option {unknown[0]}=")
    return Request(product=product, severity=sev, impact=impact, version=version,
                   to=opts.get("to"), at=opts.get("at"), components=comps,
                   config=kind == "config", reason=reason)


def kind_asked(opts: dict[str, str]) -> bool:
    """``type=config`` was asked for (then ``to=`` may be any git ref)."""
    return (opts.get("type") or "").lower() == "config"


def decide(req: Request, config: RollbackConfig) -> Decision:
    """Look up the matrix cell; components= turns a whole rollback into a partial one."""
    cell = config.cell(req.severity, req.impact)
    if req.config:
        # The config sync's own dry-run and approval rules gate it (DR-01..DR-06).
        cell = cell.model_copy(update={"type": "config"})
    elif req.components and cell.type in ("immediate", "planned"):
        cell = cell.model_copy(update={"type": "partial"})
    if req.config:
        why = (f"severity {req.severity} x impact {req.impact}, type=config asked -> config: "
               "the config sync's dry-run and approval rules apply")
        return Decision(request=req, cell=cell, why=why)
    why = (f"severity {req.severity} x impact {req.impact} -> {cell.type}, "
           f"{cell.approvals} approval(s) before executing"
           + (", on-call notified" if cell.notify_oncall else ""))
    if req.components:
        why += f"; only components {', '.join(req.components)}"
    return Decision(request=req, cell=cell, why=why)
