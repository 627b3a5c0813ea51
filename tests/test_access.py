"""Access tokens: decoded with PyJWT and checked claim by claim."""

import subprocess
import sys
from datetime import timedelta

import jwt
import pytest
from livekit import api

from hive_agent.room.access import create_token, credentials_from_env, parse_ttl
from hive_agent.text import language_tag
from hive_agent.errors import SettingsError
from eval_data import REPO

pytestmark = pytest.mark.nomodels  # every test here runs without a model

KEY = "APItestkey"
SECRET = "a-test-secret-that-is-at-least-32-characters-long"


def decode(token: str, secret: str = SECRET) -> dict:
    return jwt.decode(token, secret, algorithms=["HS256"], issuer=KEY)


def test_token_grants_room_join_publish_and_subscribe():
    token = create_token(KEY, SECRET, room="town-hall", identity="alice", name="Alice")
    claims = decode(token)

    assert claims["sub"] == "alice"
    assert claims["iss"] == KEY
    assert claims["name"] == "Alice"
    video = claims["video"]
    assert video["room"] == "town-hall"
    assert video["roomJoin"] is True
    assert video["canSubscribe"] is True
    assert video["canPublish"] is True
    assert video["canPublishData"] is True
    assert "attributes" not in claims


def test_listen_only_token_can_publish_neither_media_nor_data():
    claims = decode(create_token(KEY, SECRET, room="r", identity="bob", can_publish=False))
    assert claims["video"]["canPublish"] is False
    assert claims["video"]["canPublishData"] is False
    assert claims["video"]["canSubscribe"] is True


def test_language_becomes_the_language_attribute():
    claims = decode(create_token(KEY, SECRET, room="r", identity="carla", language="pt_br"))
    assert claims["attributes"] == {"language": "pt-BR"}

    # The installed SDK's own verifier reads it back the same way the server will.
    parsed = api.TokenVerifier(KEY, SECRET).verify(
        create_token(KEY, SECRET, room="r", identity="dan", language="es"))
    assert parsed.attributes == {"language": "es"}
    assert parsed.identity == "dan"
    assert parsed.video.room_join is True


@pytest.mark.parametrize("ttl", [timedelta(seconds=90), timedelta(minutes=30), timedelta(days=2)])
def test_lifetime_is_exp_minus_nbf(ttl):
    claims = decode(create_token(KEY, SECRET, room="r", identity="eve", ttl=ttl))
    assert claims["exp"] - claims["nbf"] == int(ttl.total_seconds())


def test_default_lifetime_is_one_hour():
    claims = decode(create_token(KEY, SECRET, room="r", identity="eve"))
    assert claims["exp"] - claims["nbf"] == 3600


def test_wrong_secret_fails_verification():
    token = create_token(KEY, SECRET, room="r", identity="mallory")
    with pytest.raises(jwt.InvalidSignatureError):
        decode(token, secret="another-secret-of-at-least-32-characters!!")


@pytest.mark.parametrize("bad", ["english", "e", "en-", "en-USA", "12", "en US", ""])
def test_malformed_language_is_rejected_with_examples(bad):
    with pytest.raises(ValueError, match=r"not a language code.*pt-BR"):
        create_token(KEY, SECRET, room="r", identity="x", language=bad)


@pytest.mark.parametrize("code, expected", [("ES", "es"), ("yue", "yue"), ("es-419", "es-419"),
                                            ("zh-tw", "zh-TW"), ("PT_br", "pt-BR"), ("zh_hant_tw", "zh-Hant-TW")])
def test_language_codes_are_normalised(code, expected):
    assert language_tag(code) == expected


def test_empty_room_identity_or_credentials_are_rejected():
    with pytest.raises(ValueError, match="room"):
        create_token(KEY, SECRET, room=" ", identity="x")
    with pytest.raises(ValueError, match="identity"):
        create_token(KEY, SECRET, room="r", identity="")
    with pytest.raises(SettingsError, match="LIVEKIT_API_SECRET"):
        create_token(KEY, "", room="r", identity="x")
    with pytest.raises(ValueError, match="positive"):
        create_token(KEY, SECRET, room="r", identity="x", ttl=timedelta(0))


@pytest.mark.parametrize("text, expected", [
    ("90s", timedelta(seconds=90)),
    ("30m", timedelta(minutes=30)),
    ("1h", timedelta(hours=1)),
    ("2d", timedelta(days=2)),
    (" 1H30m ", timedelta(hours=1, minutes=30)),
])
def test_parse_ttl(text, expected):
    assert parse_ttl(text) == expected


@pytest.mark.parametrize("bad", ["1", "h", "1x", "1.5h", "-1h", "1 h", "", "0m", "1000000000d", "31d",
                                 "30d1s", "9" * 5000 + "s"])
def test_parse_ttl_rejects_malformed_values(bad):
    with pytest.raises(ValueError, match=r"invalid token lifetime"):
        parse_ttl(bad)
    assert parse_ttl("30d") == timedelta(days=30)


def test_lifetime_is_bounded_in_create_token_too():
    with pytest.raises(ValueError, match="at most 30 days"):
        create_token(KEY, SECRET, room="r", identity="x", ttl=timedelta(days=31))


@pytest.mark.parametrize("field", ["room", "identity", "name"])
@pytest.mark.parametrize("bad, fragment", [("a\nb", "newline or control"), ("a\x1bb", "newline or control"),
                                           ("x" * 5000, "at most 256"), ("  ", "empty")])
def test_names_with_control_characters_or_5000_chars_are_refused(field, bad, fragment):
    names = {"room": "r", "identity": "x", "name": "X"} | {field: bad}
    with pytest.raises(ValueError, match=f"{field}.*{fragment}"):
        create_token(KEY, SECRET, **names)
    names[field] = "Zoë Müller-Ångström 2"  # any printable text is fine
    assert decode(create_token(KEY, SECRET, **names))


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match=r"language 'zz' is not a language Whisper knows"):
        create_token(KEY, SECRET, room="r", identity="x", language="zz")


@pytest.mark.parametrize("args, fragment", [(["--ttl", "1000000000d"], "at most 30d"),
                                            (["--identity", "a\nb"], "newline"),
                                            (["--language", "zz"], "zz")])
def test_token_command_errors_are_one_line(args, fragment):
    argv = ["--room", "r", "--identity", "x", *args]
    result = subprocess.run([sys.executable, "-m", "hive_agent", "token", *argv], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "LIVEKIT_API_KEY": KEY, "LIVEKIT_API_SECRET": SECRET},
                            cwd=REPO, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error:") and fragment in result.stderr


def test_credentials_from_env():
    assert credentials_from_env({"LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"}) == ("k", "s")


def test_credentials_from_process_environment(monkeypatch):
    monkeypatch.setenv("LIVEKIT_API_KEY", "env-key")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "env-secret")
    assert credentials_from_env() == ("env-key", "env-secret")


@pytest.mark.parametrize("env, named, not_named", [
    ({"LIVEKIT_API_SECRET": "s"}, ["LIVEKIT_API_KEY"], ["LIVEKIT_API_SECRET"]),
    ({"LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "  "}, ["LIVEKIT_API_SECRET"], ["LIVEKIT_API_KEY"]),
    ({}, ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"], []),
])
def test_missing_credentials_name_the_variable(env, named, not_named):
    with pytest.raises(SettingsError) as info:
        credentials_from_env(env)
    message = str(info.value)
    for variable in named:
        assert variable in message
    for variable in not_named:
        assert variable not in message
    assert "generate-keys" in message
