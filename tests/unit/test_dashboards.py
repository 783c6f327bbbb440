import json
from pathlib import Path

import pytest

from monitor import dashboards

FOLDER = Path(__file__).resolve().parents[2] / "dashboards"


@pytest.mark.parametrize("uid", sorted(dashboards.DASHBOARDS))
def test_committed_dashboard_is_up_to_date(uid: str) -> None:
    path = FOLDER / f"{uid}.json"
    assert path.read_text() == dashboards.render(uid), (
        "run `python -m monitor.dashboards` and commit the result"
    )


@pytest.mark.parametrize("uid", sorted(dashboards.DASHBOARDS))
def test_dashboard_has_stable_uid_variables_and_queries(uid: str) -> None:
    model = json.loads((FOLDER / f"{uid}.json").read_text())
    assert model["uid"] == uid
    assert [v["name"] for v in model["templating"]["list"]] == ["product", "region"]
    exprs = [t["expr"] for p in model["panels"] for t in p["targets"]]
    assert exprs and all(e.count("(") == e.count(")") for e in exprs)
    assert all("account_id" not in e for e in exprs)
