"""Free text: refused with a path and a code, or compiled into lines Asterisk reads whole
(issue 15 #3 and #4). The real-Asterisk half is tests/integration/test_text_fields.py."""

from __future__ import annotations

import base64
import re

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callflow import (
    Campaign,
    Dial,
    Hangup,
    Menu,
    Prompt,
    Queue,
    Site,
    Staff,
    ValidationError,
    compile_site,
    validate,
)
from callflow.cli import main
from callflow.compiler.escape import unescape_conf_arg
from callflow.model.limits import CONFIG_LINE_BYTES
from callflow.model.nodes import ALL_NODE_TYPES

from .test_validate_types import full_site

#: every free-text field of the model: (class, field)
FREE_TEXT = [
    (Site, "label"),
    *((cls, "label") for cls in ALL_NODE_TYPES),
    (Staff, "name"),
    (Prompt, "text"),
    (Dial, "cid_prefix"),
    (Queue, "cid_prefix"),
    (Campaign, "label"),
]
TEXT_CODES = {"CF133", "CF134", "CF135"}

#: characters that have broken something before, or could
SHARP = st.sampled_from(
    [
        "\n",
        "\r",
        "\x00",
        "\t",
        "\x0b",
        "\x0c",
        "\x1c",
        "\x1d",
        "\x1e",
        "\x85",
        "\u2028",
        "\u2029",
        "\ud800",
        "\udfff",
        "\U0001f600",
        "\u4e2d",
        "\u3000",
        " ",
        ",",
        ";",
        ";--",
        "--;",
        "\\",
        '"',
        "(",
        ")",
        "${SHELL(touch /tmp/x)}",
        "$[1+1]",
        "[",
        "]",
        "=",
        "#include",
        "\ufeff",
    ]
)
#: any code point (surrogates included) or one of the snippets above
PIECE = st.one_of(st.characters(exclude_categories=()), SHARP)
#: arbitrary Unicode up to 8 KB: short mixes, and long runs of a short unit
TEXT = st.one_of(
    st.lists(PIECE, max_size=40).map("".join),
    st.builds(
        lambda unit, n: (unit * n)[:8192],
        st.lists(PIECE, min_size=1, max_size=3).map("".join),
        st.integers(1, 8192),
    ),
)


def check_compiled_lines(files: dict[str, str]) -> None:
    """Every generated line is one line for Asterisk and fits its line buffer."""
    for name, text in files.items():
        for line in text.split("\n"):
            assert len(line.encode("utf-8")) <= CONFIG_LINE_BYTES, (name, line[:60])
            assert "\r" not in line and "\x00" not in line, (name, line[:60])
            assert len(line.splitlines()) <= 1, (name, line[:60])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FREE_TEXT), TEXT)
def test_free_text_is_refused_at_its_path_or_compiles_to_whole_lines(where, text):
    _cls, field = where
    site = full_site({where: text})
    found = [d for d in validate(site) if d.severity.value == "error"]
    if found:
        assert {d.code for d in found} <= TEXT_CODES, found
        assert all(d.path.endswith(f".{field}") for d in found), found
        with pytest.raises(ValidationError):
            compile_site(site)
        return
    compiled = compile_site(site)
    check_compiled_lines(compiled.files)
    if where == (Staff, "name"):
        member = next(m for q in compiled.queues for m in q.members)
        assert unescape_conf_arg(member.name) == text.strip(" ")
        assert len(unescape_conf_arg(member.name).encode()) <= 79
    if field == "cid_prefix" and text:
        ext = compiled.files["extensions.conf"]
        encoded = base64.b64encode(text.encode()).decode()
        assert f"${{BASE64_DECODE({encoded})}}" in ext


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85", "\x1c", "\n", "\r\n"])
def test_line_separators_in_prompt_text_compile_to_escaped_comments(sep):
    site = full_site({(Prompt, "text"): f"press one{sep}exten => s,1,System(x)"})
    files = compile_site(site).files
    check_compiled_lines(files)
    assert "press one\\" in files["extensions.conf"]
    assert not re.search(r"^exten => s,1,System", files["extensions.conf"], re.MULTILINE)


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85", "\x1c", "\n", "\t"])
def test_line_separators_in_labels_names_and_prefixes_are_refused(sep):
    for where in [(Site, "label"), (Menu, "label"), (Staff, "name"), (Queue, "cid_prefix")]:
        found = {
            (d.path.rsplit(".", 1)[-1], d.code) for d in validate(full_site({where: f"a{sep}b"}))
        }
        assert (where[1], "CF133") in found


def test_lone_surrogates_are_refused_with_a_path_not_a_traceback(tmp_path):
    for where in FREE_TEXT:
        found = {
            (d.path.rsplit(".", 1)[-1], d.code) for d in validate(full_site({where: "x\udc80"}))
        }
        assert (where[1], "CF134") in found
    site_file = tmp_path / "site.py"
    site_file.write_text(
        "from callflow import Site, Hangup\n"
        "site = Site(name='s', label='x\\udc80', entries={'1': 'bye'}, nodes=[Hangup(id='bye')])\n"
    )
    result = CliRunner().invoke(main, ["compile", str(site_file), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert "Traceback" not in result.output
    assert "site.label" in result.output and "CF134" in result.output


def test_asterisk_sized_text_from_issue_15_is_refused():
    emoji_name = "\U0001f600" * 1024
    escaped_name = '",;()\\' * 683  # 4,098 characters that all need escaping
    non_bmp_prefix = "\U00010348" * 4096
    cases = [
        ((Staff, "name"), emoji_name, "site.staff['ann'].name"),
        ((Staff, "name"), escaped_name, "site.staff['ann'].name"),
        ((Queue, "cid_prefix"), non_bmp_prefix, "site.nodes['sales'].cid_prefix"),
        ((Dial, "cid_prefix"), non_bmp_prefix, "site.nodes['desk'].cid_prefix"),
    ]
    for where, text, path in cases:
        found = {(d.path, d.code) for d in validate(full_site({where: text}))}
        assert (path, "CF135") in found


def test_text_just_within_the_limits_compiles():
    name = "\u4e2d" * 26  # 78 bytes
    prefix = "\U0001f600" * 19  # 76 bytes
    site = full_site({(Staff, "name"): name, (Queue, "cid_prefix"): prefix})
    assert validate(site) == []
    check_compiled_lines(compile_site(site).files)
    assert ("site.staff['ann'].name", "CF135") in {
        (d.path, d.code) for d in validate(full_site({(Staff, "name"): name + "\u4e2d"}))
    }


def test_dialling_a_group_too_large_for_one_line_is_refused():
    staff = [
        Staff(f"p{i}", name="P", device=f"PJSIP/{'x' * 60}{i}", groups=("all",)) for i in range(150)
    ]
    site = Site(
        name="big",
        entries={"1": "ring"},
        staff=staff,
        nodes=[Dial(id="ring", target="all", no_answer="bye"), Hangup(id="bye")],
    )
    found = {(d.path, d.code) for d in validate(site)}
    assert ("site.nodes['ring'].target", "CF135") in found
    ok = Site(
        name="big",
        entries={"1": "ring"},
        staff=staff[:90],
        nodes=[Dial(id="ring", target="all", no_answer="bye"), Hangup(id="bye")],
    )
    assert validate(ok) == []
    check_compiled_lines(compile_site(ok).files)
