"""Prompts on a real Asterisk: each sandbox has its own sounds, so the test placeholders
of one never hide a missing prompt in another or in the shared root, and deploy refuses
a site whose prompt the target's Asterisk cannot find, before anything goes live."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner

from callflow import Hangup, Play, Site
from callflow.audio import sound_file
from callflow.cli import main
from callflow.deploy import CliControl, PromptsMissing, deploy, target_sounds
from callflow.sandbox import Sandbox
from callflow.testing import install_placeholder_prompts

pytestmark = pytest.mark.asterisk


def _site(prompt: str) -> Site:
    return Site(
        name="cfprompts",
        entries={"100": "hello"},
        nodes=[Play(id="hello", prompts=(prompt, "vm-goodbye"), next="bye"), Hangup(id="bye")],
    )


def _tree(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` (links followed) with a hash of its bytes."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_placeholders_stay_in_their_sandbox_and_deploy_refuses_a_missing_prompt(
    asterisk_root, tmp_path
):
    prompt = f"custom/cf-only-a-{secrets.token_hex(4)}"
    site = _site(prompt)
    shared = asterisk_root / "usr/share/asterisk/sounds"
    before = _tree(shared)
    with Sandbox(asterisk_root) as a, Sandbox(asterisk_root) as b:
        control_a, control_b = CliControl(a.asterisk_command()), CliControl(b.asterisk_command())
        # each Asterisk reads its own sounds directory, and says so itself
        assert target_sounds(control_a) == (a.sounds_dir, "")
        assert target_sounds(control_b) == (b.sounds_dir, "")
        made = install_placeholder_prompts(a, site)
        assert made == [a.sounds_dir / f"{prompt}.wav"]
        assert sound_file(a.sounds_dir, prompt, "en") == made[0]
        assert sound_file(b.sounds_dir, prompt, "en") is None  # B still misses it
        assert sound_file(b.sounds_dir, "vm-goodbye", "en") is not None  # the root's, linked

        # deploy to A: its own placeholder is there
        done = deploy(site, a.etc_dir, asterisk=control_a, log_reader=a, prompts="refuse")
        assert done.missing_prompts == () and done.prompts_unchecked is None
        # deploy to B refuses before anything is written or reloaded
        with pytest.raises(PromptsMissing) as refused:
            deploy(site, b.etc_dir, asterisk=control_b, log_reader=b, prompts="refuse")
        assert prompt in str(refused.value) and str(b.sounds_dir) in str(refused.value)
        assert [(d.path, d.code) for d in refused.value.diagnostics] == [
            ("site.nodes['hello'].prompts", "CF154")
        ]
        assert not (b.etc_dir / "callflow" / "cfprompts").exists()
        assert "There is no existence of 'cf-cfprompts-entry' context" in b.cli(
            "dialplan show cf-cfprompts-entry"
        )

        # the same through the CLI: a clear refusal naming the prompt, exit 1, then a
        # warning and a deploy with --allow-missing-prompts
        args = ["deploy", str(tmp_path / "site.py"), "--asterisk-etc", str(b.etc_dir),
                "--asterisk-cmd", " ".join(b.asterisk_command())]  # fmt: skip
        (tmp_path / "site.py").write_text(
            "from callflow import Hangup, Play, Site\n"
            f"site = Site(name='cfprompts', entries={{'100': 'hello'}}, nodes=["
            f"Play(id='hello', prompts=({prompt!r}, 'vm-goodbye'), next='bye'), "
            "Hangup(id='bye')])\n"
        )
        runner = CliRunner()
        refused_cli = runner.invoke(main, args)
        assert refused_cli.exit_code == 1, refused_cli.output
        assert "Traceback" not in refused_cli.output
        assert f"no sound file '{prompt}' for language 'en'" in refused_cli.output
        assert "nothing was deployed" in refused_cli.output
        assert not (b.etc_dir / "callflow" / "cfprompts").exists()
        warned = runner.invoke(main, [*args, "--allow-missing-prompts"])
        assert warned.exit_code == 0, warned.output
        assert "deployed with 1 missing prompt use(s)" in warned.output
        assert "cfprompts: deployed version" in warned.output
    # nothing of either sandbox reached the shared root
    assert _tree(shared) == before


def test_a_placeholder_never_goes_through_a_link_into_the_root(asterisk_root):
    site = dataclasses.replace(_site("en/cf-escape"))
    with Sandbox(asterisk_root) as pbx, pytest.raises(ValueError, match="shared root"):
        install_placeholder_prompts(pbx, site)
    assert not (asterisk_root / "usr/share/asterisk/sounds/en/cf-escape.wav").exists()
