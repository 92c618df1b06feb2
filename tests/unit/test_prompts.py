"""`callflow prompts list|check` on sounds directories laid out as Asterisk reads them,
and the lengths lint counts (the same measurement)."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from callflow.analysis import missing_sounds, prompt_timer
from callflow.audio import lookup_order, prompt_report, site_prompts, sound_file, sound_seconds
from callflow.cli import main
from callflow.loader import load_site
from callflow.model.prompts import Prompt

SITE = """\
from callflow import Campaign, CallingWindow, Hangup, Hours, LanguageSelect, Menu, Queue, Site
from callflow import Staff, SurveyQuestion

site = Site(
    name="shop",
    entries={"100": "lang"},
    staff=[Staff("ann", name="Ann", device="PJSIP/1", groups=("desk",))],
    nodes=[
        LanguageSelect(id="lang", prompt="custom/hello", languages={"1": "en", "2": "zh"},
                       next="main"),
        Menu(id="main", prompt="custom/main", options={"1": "desk"}, operator="desk"),
        Queue(id="desk", members=["desk"], max_wait=60, overflow="bye"),
        Hangup(id="bye"),
    ],
    campaigns=[
        Campaign(id="sat", kind="survey", message="manager:custom/intro",
                 window=CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),)),
                 questions=(SurveyQuestion("rate", "custom/rate"),), goodbye="custom/main"),
        Campaign(id="news", kind="playback", message="custom/news", goodbye="custom/unplayed",
                 window=CallingWindow(hours=(Hours("mon-sun", "00:00", "23:59"),))),
    ],
)
"""


def _wav(path: Path, seconds: float, rate: int = 8000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(rate * seconds))


def _raw(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff" * size)


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "site.py").write_text(SITE)
    sounds = tmp_path / "sounds"
    _raw(sounds / "custom/hello.ulaw", 8000)  # no language folder: every language, 1.0 s
    _wav(sounds / "en/custom/main.wav", 1.5)
    _raw(sounds / "zh/custom/main.gsm", 1650 * 2)  # 2.0 s of GSM
    _wav(sounds / "en/custom/rate.wav", 2.25, rate=16000)
    _wav(sounds / "en/custom/intro.wav", 3.0)  # the managers' shared fallback
    _raw(sounds / "en/custom/news.sln16", 32000 * 4)  # 4.0 s at 16 kHz
    return tmp_path / "site.py", sounds


def run(*argv: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in argv], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_the_site_walk_finds_nodes_campaigns_and_questions(shop) -> None:
    site_file, _ = shop
    uses = {u.file: u.used for u in site_prompts(load_site(str(site_file)))}
    assert uses == {
        "custom/hello": ("site.nodes['lang'].prompt",),
        "custom/main": ("site.nodes['main'].prompt", "site.campaigns['sat'].goodbye"),
        "custom/intro": ("site.campaigns['sat'].message",),  # manager: its fallback
        "custom/rate": ("site.campaigns['sat'].questions['rate'].prompt",),
        "custom/news": ("site.campaigns['news'].message",),
        "vm-goodbye": ("site.campaigns['sat'].opt_out_message",),
    }  # a playback campaign's goodbye is never played: not listed


def test_list_says_languages_lengths_and_uses(shop) -> None:
    site_file, sounds = shop
    code, out, _ = run("prompts", "list", site_file, "--sounds", sounds, "--json")
    assert code == 0
    listed = {p["file"]: p for p in json.loads(out)}
    assert listed["custom/hello"]["languages"] == [""] and listed["custom/hello"]["seconds"] == 1.0
    assert listed["custom/main"]["languages"] == ["en", "zh"]
    assert listed["custom/main"]["seconds"] == 1.5  # the site's language (en) plays the wav
    assert listed["custom/rate"]["seconds"] == 2.25 and listed["custom/rate"]["missing"] == ["zh"]
    assert listed["custom/news"]["seconds"] == 4.0
    assert (
        listed["vm-goodbye"]["missing"] == ["en", "zh"] and listed["vm-goodbye"]["seconds"] is None
    )
    assert listed["custom/main"]["used"] == ["site.nodes['main'].prompt",
                                             "site.campaigns['sat'].goodbye"]  # fmt: skip
    code, out, _ = run("prompts", "list", site_file, "--sounds", sounds)
    assert code == 0
    assert "custom/main: 1.50s; languages: en, zh\n  used by site.nodes['main'].prompt\n" in out
    assert "custom/rate: 2.25s; languages: en; missing in zh\n" in out
    assert "custom/hello: 1.00s; languages: (no language folder)\n" in out


def test_check_lists_every_missing_prompt_per_language_and_passes_once_recorded(shop) -> None:
    site_file, sounds = shop
    code, out, err = run("prompts", "check", site_file, "--sounds", sounds)
    assert code == 1
    assert err.splitlines()[:-1] == [
        "missing: custom/intro (zh) used by site.campaigns['sat'].message",
        "missing: custom/news (zh) used by site.campaigns['news'].message",
        "missing: custom/rate (zh) used by site.campaigns['sat'].questions['rate'].prompt",
        "missing: vm-goodbye (en) used by site.campaigns['sat'].opt_out_message",
        "missing: vm-goodbye (zh) used by site.campaigns['sat'].opt_out_message",
    ]
    assert "5 prompt problem(s)" in err
    for file in ("custom/rate", "custom/intro", "custom/news", "vm-goodbye"):
        _raw(sounds / f"{file}.alaw", 800)  # language-neutral: every language has it
    code, out, err = run("prompts", "check", site_file, "--sounds", sounds)
    assert (code, err) == (0, "")
    assert out == f"all 6 prompt(s) found under {sounds}\n"
    # a language the CRM sets is checked when asked for: neutral files serve it, the
    # menu recorded in en and zh only does not
    code, _, err = run("prompts", "check", site_file, "--sounds", sounds, "--language", "fr")
    assert code == 1
    assert err.splitlines()[0] == (
        "missing: custom/main (fr) used by site.nodes['main'].prompt, site.campaigns['sat'].goodbye"
    )
    assert "1 prompt problem(s)" in err


def test_an_unreadable_file_is_a_problem_not_a_crash(shop) -> None:
    site_file, sounds = shop
    (sounds / "en/custom/main.wav").write_bytes(b"RIFF not really")
    code, out, _ = run("prompts", "list", site_file, "--sounds", sounds)
    assert code == 0 and "custom/main: unreadable; languages: en, zh" in out
    code, _, err = run("prompts", "check", site_file, "--sounds", sounds, "--language", "zh")
    assert code == 1 and "unreadable: " in err and "en/custom/main.wav" in err


def test_asterisk_lookup_order_and_lint_uses_the_measured_length(shop) -> None:
    site_file, sounds = shop
    assert lookup_order("zh_CN") == ("zh_CN", "zh", "", "en")
    assert sound_file(sounds, "custom/main", "zh_CN") == sounds / "zh/custom/main.gsm"
    assert sound_file(sounds, "custom/rate", "zh") == sounds / "en/custom/rate.wav"  # en last
    assert sound_file(sounds, "custom/rate", None) is None  # no neutral file
    timer = prompt_timer(sounds, default=99, language="zh_CN")
    assert timer(Prompt("custom/main")) == 2.0  # the GSM file, measured
    assert timer(Prompt("custom/main", seconds=7)) == 7  # what the site declares wins
    assert timer(Prompt("custom/none")) == 99
    site = load_site(str(site_file))
    lengths = {p.file: p.seconds for p in prompt_report(site, sounds)}
    assert prompt_timer(sounds, language="en")(Prompt("custom/news")) == lengths["custom/news"]
    found = missing_sounds(site, sounds)
    assert [(d.path, d.code) for d in found] == [("site.campaigns['sat'].opt_out_message", "CF154")]


def test_a_wav_of_another_codec_is_measured_by_ffprobe(tmp_path) -> None:
    target = tmp_path / "alaw.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "sine=frequency=440:duration=1.25", "-ar", "8000", "-c:a", "pcm_alaw", str(target)],
        check=True,
    )  # fmt: skip
    with pytest.raises(wave.Error), wave.open(str(target), "rb"):
        pass  # Python's reader gives up: ffprobe reads it
    assert sound_seconds(target) == pytest.approx(1.25, abs=0.01)


def test_files_no_package_installed_are_removed_from_the_shared_root(tmp_path) -> None:
    """What earlier versions left in the shared root (placeholders, imported prompts)
    goes; what Debian's packages installed stays (dpkg's lists say which is which)."""
    from callflow.sandbox.root import remove_stale_sounds, stale_sounds

    sounds = tmp_path / "usr/share/asterisk/sounds"
    info = tmp_path / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / "asterisk-core-sounds-en-gsm.list").write_text(
        "/usr/share/asterisk/sounds\n/usr/share/asterisk/sounds/en_US_f_Allison\n"
        "/usr/share/asterisk/sounds/en_US_f_Allison/hello-world.gsm\n"
        "/usr/share/asterisk/sounds/en_US_f_Allison/digits/1.gsm\n"
    )
    _raw(sounds / "en_US_f_Allison/hello-world.gsm", 33)
    _raw(sounds / "en_US_f_Allison/digits/1.gsm", 33)
    (sounds / "en").symlink_to("en_US_f_Allison")  # fix_root's link: not walked twice
    _wav(sounds / "en_US_f_Allison/custom/star-main-menu.wav", 0.3)
    _wav(sounds / "en_US_f_Allison/custom/cfanswer/consultant.wav", 0.3)
    leftovers = [sounds / "en_US_f_Allison/custom/cfanswer/consultant.wav",
                 sounds / "en_US_f_Allison/custom/star-main-menu.wav"]  # fmt: skip
    assert stale_sounds(tmp_path) == leftovers
    assert remove_stale_sounds(tmp_path) == leftovers
    assert not (sounds / "en_US_f_Allison/custom").exists()  # emptied folders go too
    assert sorted(p.name for p in (sounds / "en").rglob("*.gsm")) == ["1.gsm", "hello-world.gsm"]
    assert stale_sounds(tmp_path) == []
