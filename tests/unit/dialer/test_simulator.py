"""The campaign simulator: deterministic per seed, the pacer's promises hold over seeded
runs (abandon rate at or under target in every run, protected customers never abandoned,
occupancy above progressive), and `campaign simulate` fails cleanly on bad input."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callflow.dialer.simulator import CampaignModel, model_for, simulate, simulate_runs
from callflow.model.campaigns import AbandonControl, Campaign
from tests.badinput import GOOD_SITE, Case, check, run_cli

ROOT = Path(__file__).resolve().parents[3]

SMALL = CampaignModel(agents=10, contacts=2000)
SEEDS = range(1, 21)


def test_same_seed_same_run_and_modes_face_the_same_customers():
    a = simulate(SMALL, "predictive", 0.03, seed=5)
    assert a == simulate(SMALL, "predictive", 0.03, seed=5)
    assert a != simulate(SMALL, "predictive", 0.03, seed=6)
    prog = simulate(SMALL, "progressive", 0.03, seed=5)
    # common random numbers: the same contacts, so the same people answer
    assert (a.calls, a.live, a.protected_calls) == (prog.calls, prog.live, prog.protected_calls)
    assert a.calls == 2000
    assert a.connected + a.abandoned == a.live


def test_stale_statistics_as_the_live_dialer_reads_them():
    """``stats_every``: the pacer's measured counts are re-read that often (the live
    dialer re-reads the store every 5 s); agents and calls in flight stay current."""
    from callflow.dialer.predictive import Pacer

    fresh = simulate(SMALL, "predictive", 0.03, seed=3)
    assert fresh == simulate(SMALL, "predictive", 0.03, seed=3, stats_every=0.0)
    assert fresh.peak_level > 1
    # never re-read after the start: the pacer never has its samples, so it never
    # leaves progressive (no dialling ahead, nobody abandoned)
    pacer = Pacer("predictive", 0.03)
    frozen = simulate(SMALL, "predictive", 0.03, seed=3, pacer=pacer, stats_every=1e12)
    assert frozen.peak_level == 1.0 and frozen.abandoned == 0
    assert frozen.connected == frozen.live and pacer.as_dict()["samples"] == 0
    stale = simulate(SMALL, "predictive", 0.03, seed=3, stats_every=5.0)
    assert stale != fresh and stale.peak_level > 1


def test_progressive_never_abandons_and_accounts_for_every_call():
    for seed in (1, 2, 3):
        r = simulate(SMALL, "progressive", 0.03, seed=seed)
        assert r.abandoned == 0
        assert r.connected == r.live > 0
        assert 0.5 < r.occupancy < 1.0
        assert r.peak_level == 1.0
        # every connected call kept an agent busy; nobody was served twice
        assert r.busy_seconds <= r.agents * r.finish


#: the stated margin: mean predictive occupancy / progressive, same seeds (10 agents,
#: 2,000 contacts; the benchmark states the full-size figures)
MARGIN = {0.01: 1.01, 0.03: 1.03, 0.05: 1.04}


@pytest.mark.parametrize("target", sorted(MARGIN))
def test_predictive_stays_under_target_in_every_run_and_beats_progressive(target):
    prog = [simulate(SMALL, "progressive", target, seed=s) for s in SEEDS]
    pred = [simulate(SMALL, "predictive", target, seed=s) for s in SEEDS]
    for p, q in zip(pred, prog, strict=True):
        assert p.abandon_rate <= target, (p.seed, p.abandon_rate)
        assert p.protected_abandoned == 0
        assert p.protected_live > 0  # protected customers were dialled and answered
        assert p.occupancy > q.occupancy, p.seed
        assert p.peak_level > 1.0  # it did dial ahead
    ratio = statistics.mean(p.occupancy for p in pred) / statistics.mean(q.occupancy for q in prog)
    assert ratio >= MARGIN[target]
    assert statistics.mean(p.abandon_rate for p in pred) > 0  # the budget is used, not wasted


@st.composite
def models(draw):
    answer = draw(st.floats(0, 1))
    machine = draw(st.floats(0, 1 - answer))
    return CampaignModel(
        agents=draw(st.integers(1, 12)),
        contacts=draw(st.integers(0, 250)),
        answer_rate=answer,
        machine_rate=machine,
        busy_rate=draw(st.floats(0, 1 - answer - machine)),
        ring_answer=draw(st.floats(0.5, 30)),
        ring_sigma=draw(st.sampled_from([0.0, 0.5, 1.5])),
        ring_seconds=draw(st.floats(5, 60)),
        amd=draw(st.booleans()),
        talk=draw(st.floats(1, 600)),
        talk_sigma=draw(st.sampled_from([0.0, 0.6, 2.0])),
        wrap=draw(st.sampled_from([0.0, 5.0, 60.0])),
        protected_share=draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
        limit_seconds=draw(st.floats(1, 15)),
    )


@settings(max_examples=150, deadline=None)
@given(models(), st.sampled_from([0.0, 0.01, 0.05, 0.2]), st.integers(0, 10**6))
def test_any_campaign_keeps_the_books_and_the_promises(model, target, seed):
    for mode in ("progressive", "predictive"):
        r = simulate(model, mode, target, seed=seed)
        assert r.calls == model.contacts  # every contact dialled once
        assert r.connected + r.abandoned == r.live
        assert r.protected_abandoned == 0  # a reserved agent takes every protected answer
        assert r.protected_live <= r.protected_calls
        assert r.peak_busy <= model.agents  # no agent ever has two calls
        assert 0 <= r.occupancy <= 1 + 1e-9
        if mode == "progressive":
            assert r.abandoned == 0
        elif target == 0:
            assert r.abandoned == 0  # no abandon budget: never dials ahead


def test_without_protected_tiers_or_amd_from_the_campaign():
    c = Campaign(id="c", kind="followup", connect_to="desk", dial_mode="predictive",
                 abandon=AbandonControl(limit_seconds=5, target=0.01), protected_tiers=(),
                 ring_seconds=20)  # fmt: skip
    m = model_for(c, 4, contacts=300)
    assert (m.limit_seconds, m.ring_seconds, m.amd, m.protected_share) == (5.0, 20.0, False, 0.0)
    r = simulate(m, "predictive", 0.01, seed=1)
    assert r.protected_calls == 0
    assert model_for(Campaign(id="d", kind="followup", amd="hangup"), 2).amd is True


def test_summary_over_runs():
    s = simulate_runs(CampaignModel(agents=5, contacts=400), "predictive", 0.05, runs=3, seed=7)
    assert [r.seed for r in s.runs] == [7, 8, 9]
    assert s.worst_abandon_rate == max(r.abandon_rate for r in s.runs)
    assert json.loads(json.dumps(s.as_dict()))["runs"] == 3


@pytest.mark.parametrize(
    ("figures", "words"),
    [
        ({"agents": 0}, "agents must be a whole number >= 1"),
        ({"agents": 2, "answer_rate": 1.2}, "answer_rate must be a share"),
        ({"agents": 2, "answer_rate": 0.7, "machine_rate": 0.4}, "at most 1"),
        ({"agents": 2, "talk": 0}, "talk must be a positive number"),
        ({"agents": 2, "contacts": -1}, "contacts must be"),
    ],
)
def test_bad_figures(figures, words):
    with pytest.raises(ValueError, match=words):
        CampaignModel(**figures)


# ---- the command ---------------------------------------------------------------------------
SITE = (
    GOOD_SITE.replace(
        "from callflow import",
        "from callflow.model.campaigns import CallingWindow, Campaign\n"
        "from callflow.model.schedule import Hours\nfrom callflow import",
    )
    .replace(
        "    nodes=[",
        """    campaigns=[
        Campaign(id="care", kind="followup", connect_to="desk", caller_id="+862112345678",
                 dial_mode="predictive", abandon_message="custom/sorry", window=W),
        Campaign(id="recall", kind="playback", message="custom/recall",
                 caller_id="+862112345678", window=W),
    ],
    nodes=[""",
    )
    .replace(
        "site = Site(",
        'W = CallingWindow(hours=(Hours("mon-fri", "09:00", "18:00"),))\nsite = Site(',
    )
)
FILES = {"site.py": SITE}
SIM = ["campaign", "simulate", "site.py"]
CASES = [
    Case("unknown-campaign", [*SIM, "nope", "--agents", "3"], files=FILES, exit_code=1,
         expect=["site.py", "no campaign 'nope'", "care, recall"]),
    Case("unattended-campaign", [*SIM, "recall", "--agents", "3"], files=FILES, exit_code=1,
         expect=["campaign 'recall' dials 'unattended'", "progressive and predictive"]),
    Case("agents-0", [*SIM, "care", "--agents", "0"], files=FILES, exit_code=2,
         expect=["--agents", "0 is not in the range"]),
    Case("agents-missing", [*SIM, "care"], files=FILES, exit_code=2, expect=["--agents"]),
    Case("rate-over-1", [*SIM, "care", "--agents", "3", "--answer-rate", "1.5"], files=FILES,
         exit_code=2, expect=["--answer-rate", "1.5"]),
    Case("rates-sum-over-1",
         [*SIM, "care", "--agents", "3", "--answer-rate", "0.8", "--machine-rate", "0.3"],
         files=FILES, exit_code=2, expect=["--answer-rate 0.8 + --machine-rate 0.3", "at most 1"]),
    Case("runs-0", [*SIM, "care", "--agents", "3", "--runs", "0"], files=FILES, exit_code=2,
         expect=["--runs"]),
    Case("talk-negative", [*SIM, "care", "--agents", "3", "--talk", "-5"], files=FILES,
         exit_code=2, expect=["--talk"]),
    Case("missing-site", ["campaign", "simulate", "gone.py", "care", "--agents", "3"],
         exit_code=1, expect=["gone.py"]),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_fails_cleanly(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


def test_simulate_prints_both_modes(tmp_path: Path) -> None:
    argv = [*SIM, "care", "--agents", "6", "--contacts", "600", "--runs", "2", "--seed", "3"]
    result = run_cli(Case("ok", argv, files=FILES), tmp_path)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "campaign 'care': predictive, abandon target 3.0% (limit 2 s)" in out
    assert "protected tiers vip (10% of contacts)" in out
    assert "6 agents, 600 contacts" in out and "seeds 3-4" in out
    assert "predictive   progressive" in out
    for label in ("abandon rate, worst", "agent occupancy", "contacts/hour", "finish time"):
        assert label in out
    assert "predictive occupancy / progressive:" in out
    as_json = run_cli(Case("json", [*argv, "--json"], files=FILES), tmp_path)
    data = json.loads(as_json.output)
    assert [s["mode"] for s in data["summaries"]] == ["predictive", "progressive"]
    assert data["summaries"][1]["abandon_rate_worst"] == 0.0


def test_the_docs_show_what_the_command_prints(tmp_path: Path) -> None:
    """docs/outbound.md's `campaign simulate` example is this test's site and output."""
    text = (ROOT / "docs" / "outbound.md").read_text(encoding="utf-8")
    block = text.split("$ callflow campaign simulate site.py care ", 1)[1].split("```", 1)[0]
    options, printed = block.split("\n", 1)
    result = run_cli(Case("doc", [*SIM, "care", *options.split()], files=FILES), tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output == printed
