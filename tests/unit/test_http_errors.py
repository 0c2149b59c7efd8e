import httpx
import pytest

from lib.avatar.base import AvatarError
from lib.avatar.http import check


def resp(status, body):
    return httpx.Response(status, json=body)


def test_success_returns_body():
    assert check(resp(200, {"code": 100, "data": {"token": "t"}}), "heygen")["data"]["token"] == "t"


@pytest.mark.parametrize(
    ("status", "body", "provider", "message", "hint"),
    [
        (
            401,
            {"code": 400112, "message": "Unauthorized"},
            "heygen",
            "Unauthorized",
            "HEYGEN_API_KEY",
        ),
        (
            400,
            {
                "code": 10007,
                "message": "Concurrent limit reached, please make sure you have "
                "closed other testing sessions under the same account",
            },
            "heygen",
            "Concurrent limit",
            "stop your other sessions",
        ),
        (
            400,
            {"code": 10005, "message": "session state wrong: closed"},
            "local",
            "session state wrong",
            "start a new session",
        ),
        (
            422,
            {
                "detail": [
                    {
                        "loc": ["body", "mode"],
                        "msg": "Input should be 'FULL' or 'LITE'",
                        "type": "enum",
                    }
                ]
            },
            "liveavatar",
            "mode: Input should be",
            "pick",
        ),
        (503, {"detail": "upstream"}, "liveavatar", "upstream", "try again"),
    ],
)
def test_errors_carry_provider_message_and_hint(status, body, provider, message, hint):
    with pytest.raises(AvatarError) as err:
        check(resp(status, body), provider)
    assert err.value.status == status
    assert message in err.value.message
    assert hint in err.value.hint


def test_non_json_error_body_is_still_readable():
    with pytest.raises(AvatarError, match="Bad Gateway"):
        check(httpx.Response(502, text="Bad Gateway"), "heygen")
