"""The severity x impact decision matrix and request parsing (pure core)."""

from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.errors import ConfigError, UsageError
from bot.rollback.config import RollbackConfig
from bot.rollback.decision import decide, parse_request

EXPECTED = {
    ("critical", "widespread"): ("immediate", 0, True),
    ("critical", "limited"): ("immediate", 0, True),
    ("critical", "minimal"): ("immediate", 0, True),
    ("high", "widespread"): ("immediate", 0, True),
    ("high", "limited"): ("partial", 1, False),
    ("high", "minimal"): ("planned", 1, False),
    ("medium", "widespread"): ("planned", 1, False),
    ("medium", "limited"): ("planned", 1, False),
    ("medium", "minimal"): ("planned", 1, False),
    ("low", "widespread"): ("planned", 2, False),
    ("low", "limited"): ("planned", 2, False),
    ("low", "minimal"): ("planned", 2, False),
}


@pytest.mark.parametrize(("sev", "impact"), sorted(EXPECTED))
def test_every_default_matrix_cell(sev: str, impact: str) -> None:
    req = parse_request(["api", "bad", "deploy"], {"severity": sev, "impact": impact})
    d = decide(req, RollbackConfig())
    assert (d.cell.type, d.cell.approvals, d.cell.notify_oncall) == EXPECTED[(sev, impact)]
    assert d.why.startswith(f"severity {sev} x impact {impact} -> {d.cell.type}")


def test_short_severity_version_and_options() -> None:
    req = parse_request(["api", "v1.4.2", "error", "rate", "up"],
                        {"sev": "2", "impact": "limited", "to": "1.4.1",
                         "components": "api,worker"})
    assert (req.severity, req.version, req.to, req.reason) == (
        "high", "1.4.2", "1.4.1", "error rate up")
    assert req.components == ("api", "worker")


@pytest.mark.parametrize(("args", "opts", "says"), [
    ([], {"sev": "1", "impact": "limited"}, "which product"),
    (["api", "x"], {"impact": "limited"}, "severity is required"),
    (["api", "x"], {"sev": "7", "impact": "limited"}, "severity='7' must be one of"),
    (["api", "x"], {"sev": "1", "impact": "huge"}, "impact='huge' must be one of"),
    (["api"], {"sev": "1", "impact": "limited"}, "a reason is required"),
    (["api", "x"], {"sev": "1", "impact": "limited", "colour": "red"}, "unknown option colour="),
    (["api", "x"], {"sev": "1", "impact": "limited", "type": "blue"}, "only type=config"),
])
def test_bad_requests_get_a_clear_answer(args: list, opts: dict, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        parse_request(args, opts)


def test_config_overrides_one_cell_and_keeps_the_rest() -> None:
    cfg = parse_config(
        "channel: C0X\nrollback:\n  products:\n    api: {command: [./deploy.sh, '{version}']}\n"
        "  matrix:\n    low: {minimal: {type: planned, approvals: 3}}\n" + MAY, "relbot.yml")
    assert cfg.rollback is not None
    assert cfg.rollback.cell("low", "minimal").approvals == 3
    assert cfg.rollback.cell("low", "limited").approvals == 2
    assert cfg.rollback.products["api"].timeout.total_seconds() == 300


MAY = "permissions: {rollback: [U0ALICE]}\n"


def test_rollback_without_permissions_names_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("channel: C0X\nrollback:\n  products:\n    api: {command: [x]}\n",
                     "relbot.yml")
    assert str(err.value) == ("relbot.yml:2: rollback: permissions.rollback is not set: list "
                              'who may start a rollback (user IDs or @groups, e.g. ["@oncall"])')


def test_bad_matrix_type_names_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("channel: C0X\nrollback:\n  matrix:\n    low:\n"
                     "      minimal: {type: later}\n", "relbot.yml")
    assert "rollback.matrix.low.minimal.type" in str(err.value)


def test_a_reason_starting_with_a_number_is_not_a_version() -> None:
    req = parse_request(["api", "500s", "from", "workers"], {"sev": "2", "impact": "limited"})
    assert (req.version, req.reason) == (None, "500s from workers")
    req = parse_request(["api", "v2.0.0-rc.1", "bad"], {"sev": "2", "impact": "limited"})
    assert req.version == "2.0.0-rc.1"


def test_components_make_it_partial_and_type_config_is_explicit() -> None:
    req = parse_request(["api", "x"], {"sev": "1", "impact": "limited", "components": "a, b"})
    d = decide(req, RollbackConfig())
    assert (d.cell.type, d.cell.approvals) == ("partial", 0)
    assert d.why.endswith("only components a, b")
    d = decide(parse_request(["api", "x"], {"sev": "4", "impact": "limited", "type": "config"}),
               RollbackConfig())
    assert d.cell.type == "config" and "config sync's dry-run and approval rules" in d.why


@pytest.mark.parametrize(("product", "says"), [
    ("{config_sync: nope}", "relbot.yml:4: rollback.products.api.config_sync: no sync named "
                            "'nope' in syncs (none)"),
    ("{timeout: 5}", "relbot.yml:4: rollback.products.api: set command (argv list) or "
                     "config_sync"),
    ("{command: [x], health_retries: -1}", "health_retries"),
    ("{command: [./deploy.sh, '{verison}']}", "relbot.yml:4: rollback.products.api.command: "
     "argument '{verison}': unknown placeholder {verison}; known: {component}, {components}"),
    ("{command: [./deploy.sh, '{version}'], components: [api, worker]}",
     "relbot.yml:4: rollback.products.api: components are listed but command has no "
     "{component} or {components} placeholder"),
])
def test_bad_product_config_names_file_line_and_key(product: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(f"channel: C0X\nrollback:\n  products:\n    api: {product}\n" + MAY,
                     "relbot.yml")
    assert says in str(err.value)


def test_typos_under_a_product_get_did_you_mean_in_file_order() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("channel: C0X\nrollback:\n  products:\n    api:\n      command: [x]\n"
                     "      timout: 5\n  escalate_afer: 5m\n", "relbot.yml")
    assert str(err.value).splitlines() == [
        "relbot.yml:6: rollback.products.api.timout: unknown key 'timout' (did you mean "
        "'timeout'?)",
        "relbot.yml:7: rollback.escalate_afer: unknown key 'escalate_afer' (did you mean "
        "'escalate_after'?)"]
