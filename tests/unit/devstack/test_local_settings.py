import json
from pathlib import Path

import pytest

from devstack.local_settings import LocalSettingsError, load_into_environ, read_local_settings


def write(root: Path, name: str, document: object) -> None:
    (root / name).write_text(json.dumps(document), encoding="utf-8")


def test_values_fill_the_environment_without_overriding_what_is_set(tmp_path: Path) -> None:
    write(tmp_path, "local.settings.json", {"Values": {"A": "from-file", "B": "from-file"}})
    environ = {"A": "from-shell"}

    load_into_environ(tmp_path, environ)

    assert environ == {"A": "from-shell", "B": "from-file"}


def test_the_sample_is_read_when_local_settings_is_absent(tmp_path: Path) -> None:
    write(tmp_path, "local.settings.sample.json", {"Values": {"X": "1"}, "Host": {"CORS": "*"}})

    settings = read_local_settings(tmp_path)

    assert settings.values == {"X": "1"}
    assert settings.cors_origins == ("*",)
    assert settings.source == tmp_path / "local.settings.sample.json"


def test_local_settings_wins_over_the_sample(tmp_path: Path) -> None:
    write(tmp_path, "local.settings.sample.json", {"Values": {"X": "sample"}})
    write(tmp_path, "local.settings.json", {"Values": {"X": "mine"}})

    assert read_local_settings(tmp_path).values == {"X": "mine"}


def test_host_section_gives_port_cors_and_credentials(tmp_path: Path) -> None:
    write(
        tmp_path,
        "local.settings.json",
        {
            "Values": {"N": 5, "FLAG": True},
            "Host": {
                "LocalHttpPort": 7077,
                "CORS": "http://a.test, http://b.test",
                "CORSCredentials": True,
            },
        },
    )

    settings = read_local_settings(tmp_path)

    assert settings.http_port == 7077
    assert settings.cors_origins == ("http://a.test", "http://b.test")
    assert settings.cors_credentials is True
    assert settings.values == {"N": "5", "FLAG": "true"}


def test_no_file_means_no_settings(tmp_path: Path) -> None:
    settings = read_local_settings(tmp_path)

    assert settings.values == {}
    assert settings.http_port is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"IsEncrypted": True, "Values": {}}), "encrypted"),
        (json.dumps({"Values": {"A": {"nested": 1}}}), "Values.A"),
        (json.dumps({"Host": {"LocalHttpPort": 70000}}), "LocalHttpPort"),
    ],
)
def test_unusable_files_fail_with_a_message_naming_the_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "local.settings.json").write_text(content, encoding="utf-8")

    with pytest.raises(LocalSettingsError, match=message):
        read_local_settings(tmp_path)


def test_the_committed_sample_names_the_entry_module() -> None:
    root = Path(__file__).resolve().parents[3]

    settings = read_local_settings(root)

    assert settings.values["PYTHON_SCRIPT_FILE_NAME"] == "main.py"
