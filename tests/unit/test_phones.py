"""Phones and numbers: the generated pjsip.conf, musiconhold.conf and dialplan, secrets,
bad input, ringing before answering, and the docs guide's Python."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from callflow import (
    Hangup,
    Menu,
    Phones,
    Prompt,
    Queue,
    Site,
    Staff,
    Trunk,
    compile_site,
    human_first,
)
from callflow.cli import main
from callflow.compiler import write
from callflow.compiler.secrets import SecretsError, env_name, load_secrets, placeholder
from callflow.errors import ValidationError
from callflow.flow.effects import Answer, Enter
from callflow.flow.machine import FlowMachine
from callflow.loader import load_site
from callflow.validate import validate

ROOT = Path(__file__).parents[2]
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def shop(**changes: object) -> Site:
    fields: dict[str, object] = dict(
        name="shop",
        timezone="Asia/Shanghai",
        entries={"8000": "greeting", "8001": "menu"},
        staff=[
            Staff(
                "lily",
                name='Lily "desk"; <x>',
                device="PJSIP/1001",
                groups=("desk",),
                extension="1001",
                mailbox="1001",
            ),
            Staff(
                "wang",
                name="Wang",
                device="PJSIP/2001",
                groups=("sales",),
                extension="2001",
                did="+862155550121",
            ),
            Staff("bot", name="Bot", device="Local/9@agents/n", groups=("sales",)),
        ],
        trunks=[
            Trunk(
                "carrier",
                host="sip.carrier.example",
                username="862155550100",
                numbers={"+862155550100": "8000"},
                caller_id="+862155550100",
            ),
            Trunk(
                "backup",
                host="203.0.113.5",
                register=False,
                match=("203.0.113.0/28",),
                numbers={"862155550199": "8000"},
                default="8000",
                presentation="prohib",
            ),
        ],
        nodes=[
            human_first("greeting", target="desk", ring=15, then="menu"),
            Menu(id="menu", prompt=Prompt("custom/menu"), options={"1": "sales"}, operator="sales"),
            Queue(id="sales", members=["sales"], max_wait=60, overflow="bye"),
            Hangup(id="bye"),
        ],
    )
    fields.update(changes)
    return Site(**fields)  # type: ignore[arg-type]


def sections(text: str) -> list[tuple[str, dict[str, list[str]]]]:
    out: list[tuple[str, dict[str, list[str]]]] = []
    for line in text.splitlines():
        if line.startswith("["):
            out.append((line.strip("[]"), {}))
        elif " = " in line and not line.startswith(";"):
            key, value = line.split(" = ", 1)
            out[-1][1].setdefault(key, []).append(value)
    return out


def by_type(text: str, kind: str) -> dict[str, dict[str, list[str]]]:
    return {name: s for name, s in sections(text) if s.get("type") == [kind]}


def test_pjsip_has_a_transport_an_endpoint_per_staff_phone_and_the_trunks() -> None:
    pjsip = compile_site(shop()).files["pjsip.conf"]
    assert by_type(pjsip, "transport") == {
        "callflow-shop-udp": {"type": ["transport"], "protocol": ["udp"], "bind": ["0.0.0.0:5060"]}
    }
    endpoints = by_type(pjsip, "endpoint")
    # PJSIP staff with extensions; the Local agent has no endpoint
    assert sorted(endpoints) == ["1001", "2001", "callflow-shop-backup", "callflow-shop-carrier"]
    desk = endpoints["1001"]
    assert desk["context"] == ["cf-shop-phones"] and desk["tone_zone"] == ["cn"]
    assert desk["callerid"] == ['"Lily desk x" <1001>']  # no quote, ; or <> survives
    assert desk["mailboxes"] == ["1001@callflow-shop"]
    assert endpoints["callflow-shop-carrier"]["context"] == ["cf-shop-inbound-carrier"]
    assert endpoints["callflow-shop-carrier"]["from_user"] == ["+862155550100"]
    assert endpoints["callflow-shop-backup"]["callerid_privacy"] == ["prohib"]
    identify = by_type(pjsip, "identify")
    assert identify["callflow-shop-backup"]["match"] == ["203.0.113.0/28"]
    assert identify["callflow-shop-carrier"]["match"] == ["sip.carrier.example"]
    registrations = by_type(pjsip, "registration")
    assert list(registrations) == ["callflow-shop-carrier"]  # the IP trunk does not register
    auths = by_type(pjsip, "auth")
    assert auths["1001"]["password"] == [placeholder("staff.lily")]
    assert auths["callflow-shop-carrier"]["password"] == [placeholder("trunk.carrier")]
    assert compile_site(shop()).secrets == ("staff.lily", "staff.wang", "trunk.carrier")


def test_secrets_fill_pjsip_and_only_pjsip() -> None:
    values = {
        "staff.lily": "lily-pw-123456",
        "staff.wang": "wang-pw-123456",
        "trunk.carrier": "carrier-pw-1234",
    }
    files = compile_site(shop(), values).files
    assert "password = lily-pw-123456" in files["pjsip.conf"]
    assert "SECRET(" not in files["pjsip.conf"]
    assert all("pw-123456" not in text for name, text in files.items() if name != "pjsip.conf")


def test_inbound_context_holds_only_the_mapped_numbers() -> None:
    ext = compile_site(shop()).files["extensions.conf"]
    carrier = ext.split("[cf-shop-inbound-carrier]\n", 1)[1].split("\n\n", 1)[0]
    numbers = re.findall(r"^exten => ([^,]+),1,(.*)$", carrier, re.M)
    assert numbers == [
        ("+862155550100", "Goto(cf-shop-entry,8000,1)"),
        ("+862155550121", "Goto(cf-shop-phones,2001,1) ; wang"),
    ]  # 8001, the entry without a number, is not there; no default: the rest is a 404
    backup = ext.split("[cf-shop-inbound-backup]\n", 1)[1].split("\n\n", 1)[0]
    assert "exten => _X.,1,Goto(cf-shop-entry,8000,1) ; unknown number" in backup


def test_staff_phones_dial_extensions_voicemail_feature_codes_and_entries() -> None:
    ext = compile_site(shop()).files["extensions.conf"]
    phones = ext.split("[cf-shop-phones]\n", 1)[1].split("\n\n", 1)[0]
    # free by its device state and by the person's ring lock (shared with manager-first)
    assert "exten => 1001,3,Set(CF_LOCKED=${TRYLOCK(cf-shop-staff-lily)})" in phones
    assert 'exten => 1001,4,GotoIf($["${CF_LOCKED}" != "1"]?busy)' in phones
    assert "exten => 1001,5,Dial(PJSIP/1001,20)" in phones
    assert "exten => 1001,6,Set(CF_LOCKED=${UNLOCK(cf-shop-staff-lily)})" in phones
    assert "exten => 1001,8,VoiceMail(1001@callflow-shop,u)" in phones
    assert "exten => 1001,10(busy),VoiceMail(1001@callflow-shop,b)" in phones
    assert "exten => *97,2,VoiceMailMain(@callflow-shop)" in phones
    assert "exten => *46,2,PauseQueueMember(,PJSIP/${CHANNEL(endpoint)},,logout)" in phones
    assert "exten => *45,2,UnpauseQueueMember(,PJSIP/${CHANNEL(endpoint)},,login)" in phones
    assert "exten => 8001,1,Goto(cf-shop-entry,8001,1)" in phones
    voicemail = compile_site(shop()).files["voicemail.conf"]
    assert "1001 => 1001,," in voicemail  # the desk's own box exists


def test_musiconhold_class_per_queue_music_and_queues_use_it() -> None:
    files = compile_site(shop()).files
    assert sections(files["musiconhold.conf"]) == [
        ("callflow-shop-default", {"mode": ["files"], "directory": ["moh"]})
    ]
    assert "musicclass = callflow-shop-default" in files["queues.conf"]


def test_sections_can_be_left_to_a_hand_written_pjsip() -> None:
    pjsip = compile_site(shop(phones=Phones(transport=False, trunks=False))).files["pjsip.conf"]
    assert by_type(pjsip, "transport") == {} and "callflow-shop-carrier" not in pjsip
    assert "transport =" not in pjsip and sorted(by_type(pjsip, "endpoint")) == ["1001", "2001"]
    none = compile_site(shop(phones=Phones(transport=False, staff=False, trunks=False)))
    assert by_type(none.files["pjsip.conf"], "endpoint") == {} and none.secrets == ()
    # the dialplan of numbers and phones stays: the hand-written endpoints point at it
    assert "[cf-shop-inbound-carrier]" in none.files["extensions.conf"]


def test_entries_do_not_answer_media_nodes_do_and_the_desk_rings_only_free_phones() -> None:
    ext = compile_site(shop()).files["extensions.conf"]
    entry = ext.split("[cf-shop-entry]\n", 1)[1].split("\n\n", 1)[0]
    assert "Answer()" not in entry
    greeting = ext.split("[cf-shop-greeting]\n", 1)[1].split("\n\n", 1)[0]
    assert "Answer()" not in greeting
    assert "${DEVICE_STATE(PJSIP/1001)}" in greeting
    # a phone joins the ring only once its person's ring lock is taken, freed after it
    lines = greeting.splitlines()
    taken = lines.index("exten => s,6,Set(CF_LOCKED=${TRYLOCK(cf-shop-staff-lily)})")
    added = lines.index("exten => s,8,Set(CF_FREE=${CF_FREE}&PJSIP/1001)")
    dial = lines.index("exten => s,12,Dial(${CF_FREE:1},15)")
    freed = lines.index("exten => s,13,Set(CF_LOCKED=${UNLOCK(cf-shop-staff-lily)})")
    assert taken < added < dial < freed
    menu = ext.split("[cf-shop-menu]\n", 1)[1].split("\n\n", 1)[0]
    assert menu.splitlines()[2] == "exten => s,2,Answer()"
    # the flow machine says the same: the menu answers on entering, the entry does not
    site = shop()
    machine = FlowMachine(site)
    start = list(_drain(machine.start("8000")))
    assert not any(isinstance(e, Answer) for e in start)
    effects = list(_drain(machine.visit(site.node_map["menu"])))
    assert isinstance(effects[0], Enter) and isinstance(effects[1], Answer)


def _drain(steps):  # type: ignore[no-untyped-def]
    answer = None
    try:
        while True:
            effect = steps.send(answer)
            yield effect
            answer = None
    except StopIteration:
        return


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {
                "staff": [
                    Staff("a", name="A", device="PJSIP/1", extension="1001"),
                    Staff("b", name="B", device="PJSIP/2", extension="1001"),
                ]
            },
            ("site.staff['b'].extension", "CF301"),
        ),
        (
            {"staff": [Staff("a", name="A", device="PJSIP/1", extension="8000")]},
            ("site.staff['a'].extension", "CF301"),
        ),
        (
            {"trunks": [Trunk("t", host="10.0.0.1", register=False, numbers={"5550100": "9999"})]},
            ("site.trunks['t'].numbers['5550100']", "CF305"),
        ),
        (
            {"trunks": [Trunk("t", host="10.0.0.1", register=False, default="7")]},
            ("site.trunks['t'].default", "CF305"),
        ),
        (
            {"trunks": [Trunk("t", host="bad host;", register=False)]},
            ("site.trunks['t'].host", "CF304"),
        ),
        (
            {"trunks": [Trunk("t", host="sip.example")]},  # registers, but as whom?
            ("site.trunks['t'].username", "CF304"),
        ),
        (
            {
                "trunks": [
                    Trunk("t", host="a.example", register=False),
                    Trunk("t", host="b.example", register=False),
                ]
            },
            ("site.trunks['t']", "CF303"),
        ),
        (
            {"trunks": [Trunk("t", host="a.example", register=False, numbers={"12ab": "8000"})]},
            ("site.trunks['t'].numbers['12ab']", "CF302"),
        ),
        ({"country": "china"}, ("site.country", "CF306")),
    ],
)
def test_bad_phones_and_numbers_get_one_clear_error_each(changes, expected) -> None:  # type: ignore[no-untyped-def]
    found = [(d.path, d.code) for d in validate(shop(**changes))]
    assert expected in found
    with pytest.raises(ValidationError):
        compile_site(shop(**changes))


def test_secrets_from_environment_and_a_private_file(tmp_path: Path) -> None:
    file = tmp_path / "shop.secrets"
    file.write_text("# phones\nstaff.lily = from-file-123\ntrunk.carrier = carrier-123456\n")
    file.chmod(0o600)
    env = {env_name("staff.lily"): "from-env-1234"}
    got = load_secrets(["staff.lily", "trunk.carrier"], file=file, environ=env)
    assert got == {"staff.lily": "from-env-1234", "trunk.carrier": "carrier-123456"}
    with pytest.raises(SecretsError, match=r"secret staff.wang: not set .*\[CF307\]"):
        load_secrets(["staff.wang"], file=file, environ={})
    file.chmod(0o644)
    with pytest.raises(SecretsError, match=r"lets others read it.*\[CF307\]"):
        load_secrets(["staff.lily"], file=file, environ={})
    with pytest.raises(SecretsError, match=r"secret staff.lily .*8-128 characters"):
        load_secrets(["staff.lily"], environ={env_name("staff.lily"): "a b;c"})


def test_compiled_files_are_written_owner_only(tmp_path: Path) -> None:
    for path in write(compile_site(shop()), tmp_path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


def test_cli_compile_with_a_secrets_file_writes_what_compiling_with_them_does(
    tmp_path: Path,
) -> None:
    example = ROOT / "examples" / "four_s_dealer.py"
    site = load_site(str(example))
    names = compile_site(site).secrets
    assert names
    values = {name: f"pw-{i:02d}-{name.replace('.', '-')}" for i, name in enumerate(names)}
    secrets = tmp_path / "site.secrets"
    secrets.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
    secrets.chmod(0o600)
    out = tmp_path / "out"
    argv = ["compile", str(example), "-o", str(out), "--secrets", str(secrets)]
    result = CliRunner().invoke(main, argv, env={"CALLFLOW_SECRETS": ""})
    assert result.exit_code == 0, result.output
    expected = compile_site(site, values).files
    assert {p.name: p.read_text() for p in out.iterdir()} == expected
    assert all(f"password = {v}" in expected["pjsip.conf"] for v in values.values())
    secrets.chmod(0o644)  # others could read it: refused, one line, nothing rewritten
    result = CliRunner().invoke(main, argv, env={"CALLFLOW_SECRETS": ""})
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "chmod 600" in result.output and "[CF307]" in result.output


def test_cli_deploy_names_every_missing_secret_without_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "deploy",
            str(ROOT / "examples" / "four_s_dealer.py"),
            "--asterisk-etc",
            str(tmp_path),
            "--asterisk-cmd",
            "false",
        ],
        env={"CALLFLOW_SECRETS": ""},
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "secret trunk.carrier: not set" in result.output and "[CF307]" in result.output


def test_the_phones_guide_runs_and_its_site_compiles(tmp_path: Path) -> None:
    blocks = PYTHON_BLOCK.findall((ROOT / "docs" / "phones.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "docs/phones.md", "exec"), namespace)
    site = namespace["site"]
    assert isinstance(site, Site) and validate(site) == []
    compiled = compile_site(site)
    assert compiled.secrets == ("staff.lily", "staff.wang", "trunk.carrier")
    assert "[cf-shop-inbound-carrier]" in compiled.files["extensions.conf"]


def test_the_example_maps_its_number_and_keeps_the_internal_entry_off_the_trunk() -> None:
    site = load_site(str(ROOT / "examples" / "four_s_dealer.py"))
    ext = compile_site(site).files["extensions.conf"]
    inbound = ext.split("[cf-star_motors-inbound-carrier]\n", 1)[1].split("\n\n", 1)[0]
    assert "cf-star_motors-entry,8001" not in inbound
    assert site.tone_zone == "cn"
