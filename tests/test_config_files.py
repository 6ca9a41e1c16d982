"""Config file safety, as OpenSSH's safe_path and libpq's .pgpass check it: a config file others
could have written, replaced or (holding a secret) read is refused before any connection opens.

Files and folders are real, with real modes; "another user" is uid 65534 (nobody) via os.chown,
which needs root (the CI runs as root; on a laptop as another user these tests skip, in CI they fail).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from proaudit_ops.config import load_settings
from proaudit_ops.errors import ConfigError, ExitCode

NOBODY = 65534
SECRET = 'paystack_secret_key = "sk_live_FileCanary0123"\n'
PLAIN = "proaudit_concurrency = 3\n"


@pytest.fixture
def as_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail("these tests chown files to another user: run them as root (CI=true)")
        pytest.skip("needs root to chown files to another user")


@pytest.fixture
def private(tmp_path: Path) -> Path:
    """A folder of our own, mode 700 (pytest's tmp folders are 700 under /tmp, which is sticky)."""
    folder = tmp_path / "private"
    folder.mkdir(mode=0o700)
    return folder


@pytest.fixture
def restore_modes(tmp_path: Path) -> Iterator[None]:
    """Put folders back to 700 afterwards so pytest can clean them up."""
    yield
    for root, dirs, _files in os.walk(tmp_path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o700)


def write(path: Path, text: str = SECRET, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def open_to_others(folder: Path, mode: int) -> None:
    """Make a folder group/world-writable: the unsafe setup under test."""
    os.chmod(folder, mode)


def refused(path: Path | None) -> ConfigError:
    """The error loading `path` (None: the default config file)."""
    with pytest.raises(ConfigError) as err:
        load_settings(str(path) if path is not None else None)
    assert err.value.exit_code == ExitCode.USAGE
    assert "FileCanary" not in err.value.message + (err.value.hint or "")
    return err.value


def test_a_private_file_in_private_folders_loads(private: Path) -> None:
    assert load_settings(str(write(private / "c.toml"))).is_live_key


def test_file_owned_by_another_user(private: Path, as_root: None) -> None:
    cfg = write(private / "c.toml")
    os.chown(cfg, NOBODY, NOBODY)
    err = refused(cfg)
    assert err.message == f"config file {cfg} is owned by another user (nobody)"
    assert err.hint is not None and err.hint.startswith(f"run: chown root {cfg}")


def test_plain_file_owned_by_another_user_is_refused_too(private: Path, as_root: None) -> None:
    """No secret in it, but it decides where the key from the environment is sent."""
    cfg = write(private / "c.toml", 'paystack_base_url = "https://evil.example"\n', 0o644)
    os.chown(cfg, NOBODY, NOBODY)
    assert "owned by another user" in refused(cfg).message


def test_root_owned_file_is_trusted(private: Path, as_root: None) -> None:
    cfg = write(private / "c.toml")
    os.chown(cfg, 0, 0)
    assert load_settings(str(cfg)).is_live_key


@pytest.mark.parametrize(("mode", "who"), [(0o620, "group"), (0o602, "others"), (0o666, "group and others")])
def test_file_writable_by_others(private: Path, mode: int, who: str) -> None:
    cfg = write(private / "c.toml", PLAIN, mode)
    err = refused(cfg)
    assert err.message == f"config file {cfg} is writable by {who} (mode {mode:04o})"
    assert err.hint is not None and f"chmod go-w {cfg}" in err.hint


def test_plain_file_may_be_readable(private: Path) -> None:
    assert load_settings(str(write(private / "c.toml", PLAIN, 0o644))).proaudit_concurrency == 3


def test_secret_file_readable_by_others_names_the_fix(private: Path) -> None:
    cfg = write(private / "c.toml", SECRET, 0o640)
    err = refused(cfg)
    assert err.message == f"config file {cfg} holds a secret and is readable by others (mode 0640)"
    assert err.hint == f"run: chmod 600 {cfg}"


def test_symlink_to_another_users_file(private: Path, as_root: None) -> None:
    target = write(private / "theirs.toml")
    os.chown(target, NOBODY, NOBODY)
    link = private / "c.toml"
    link.symlink_to(target)
    err = refused(link)
    assert err.message == f"config file {target} is owned by another user (nobody)"


def test_symlink_owned_by_another_user(private: Path, as_root: None) -> None:
    target = write(private / "mine.toml")
    link = private / "c.toml"
    link.symlink_to(target)
    os.lchown(link, NOBODY, NOBODY)
    err = refused(link)
    assert err.message == f"config file {link}: the symlink {link} is owned by another user (nobody)"
    assert err.hint is not None and f"chown -h root {link}" in err.hint


def test_symlink_chain_to_a_private_file_loads(private: Path) -> None:
    write(private / "real.toml")
    (private / "hop.toml").symlink_to("real.toml")  # relative
    (private / "c.toml").symlink_to(private / "hop.toml")
    assert load_settings(str(private / "c.toml")).is_live_key


def test_symlink_loop(private: Path) -> None:
    (private / "a.toml").symlink_to(private / "b.toml")
    (private / "b.toml").symlink_to(private / "a.toml")
    assert "symbolic links" in refused(private / "a.toml").message


@pytest.mark.usefixtures("restore_modes")
@pytest.mark.parametrize(("mode", "who"), [(0o777, "group and others"), (0o770, "group"), (0o703, "others")])
def test_folder_writable_by_others(private: Path, mode: int, who: str) -> None:
    folder = private / "shared"
    folder.mkdir()
    cfg = write(folder / "c.toml", PLAIN, 0o600)
    os.chmod(folder, mode)
    err = refused(cfg)
    assert err.message == (
        f"config file {cfg}: the folder {folder} is writable by {who} (mode {mode:04o}), so they can replace the file"
    )
    assert err.hint is not None and f"chmod go-w {folder}" in err.hint


@pytest.mark.usefixtures("restore_modes")
def test_a_folder_further_up_is_checked(private: Path) -> None:
    outer = private / "outer"
    inner = outer / "a" / "b"
    inner.mkdir(parents=True)
    cfg = write(inner / "c.toml")
    open_to_others(outer, 0o777)
    assert f"the folder {outer} is writable" in refused(cfg).message


@pytest.mark.usefixtures("restore_modes")
def test_sticky_world_writable_folder_is_accepted(private: Path) -> None:
    """Like /tmp: only the entry's owner (us, checked) can rename or remove it there."""
    folder = private / "tmp"
    folder.mkdir()
    open_to_others(folder, 0o1777)
    assert load_settings(str(write(folder / "c.toml"))).is_live_key


@pytest.mark.usefixtures("restore_modes")
def test_sticky_folder_does_not_excuse_another_users_file(private: Path, as_root: None) -> None:
    folder = private / "tmp"
    folder.mkdir()
    open_to_others(folder, 0o1777)
    cfg = write(folder / "c.toml")
    os.chown(cfg, NOBODY, NOBODY)
    assert "owned by another user" in refused(cfg).message


def test_folder_owned_by_another_user(private: Path, as_root: None) -> None:
    folder = private / "theirs"
    folder.mkdir(mode=0o755)
    cfg = write(folder / "c.toml")
    os.chown(folder, NOBODY, NOBODY)
    err = refused(cfg)
    assert err.message == f"config file {cfg}: the folder {folder} is owned by another user (nobody)"


@pytest.mark.usefixtures("restore_modes")
def test_the_real_folder_is_checked_through_a_symlinked_folder(private: Path) -> None:
    """A safe-looking path whose folder is a link into a folder anyone can write to."""
    unsafe = private / "unsafe"
    unsafe.mkdir()
    write(unsafe / "c.toml")
    open_to_others(unsafe, 0o777)
    (private / "looks-safe").symlink_to(unsafe)
    assert f"the folder {unsafe} is writable" in refused(private / "looks-safe" / "c.toml").message


@pytest.mark.usefixtures("restore_modes")
def test_the_links_folder_is_checked(private: Path) -> None:
    """A link in a folder others can write to can be replaced, even if its target is safe."""
    target = write(private / "real.toml")
    unsafe = private / "unsafe"
    unsafe.mkdir()
    (unsafe / "c.toml").symlink_to(target)
    open_to_others(unsafe, 0o777)
    assert f"the folder {unsafe} is writable" in refused(unsafe / "c.toml").message


@pytest.mark.usefixtures("restore_modes")
def test_folders_above_home_are_not_checked(private: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenSSH stops at the user's home: above it (/home) is the system's business."""
    above = private / "above"
    home = above / "home"
    home.mkdir(parents=True, mode=0o700)
    cfg = write(home / "c.toml")
    open_to_others(above, 0o777)
    monkeypatch.setenv("HOME", str(home))
    assert load_settings(str(cfg)).is_live_key
    monkeypatch.setenv("HOME", str(private / "elsewhere"))
    assert "the folder" in refused(cfg).message


def test_relative_and_home_paths(private: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(private / "c.toml")
    monkeypatch.chdir(private)
    assert load_settings("c.toml").is_live_key
    monkeypatch.setenv("HOME", str(private))
    assert load_settings("~/c.toml").is_live_key


def test_checked_before_any_connection(private: Path, as_root: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the CLI: the refusal comes from loading the settings; no engine is ever made."""
    from typer.testing import CliRunner

    from proaudit_ops.cli.app import app

    def no_engine(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an engine was made")

    monkeypatch.setattr("proaudit_ops.db.engine.make_engine", no_engine)
    cfg = write(private / "c.toml", 'database_url = "postgresql://u:FileCanary@127.0.0.1:1/db"\n')
    os.chown(cfg, NOBODY, NOBODY)
    result = CliRunner().invoke(app, ["--config", str(cfg), "payments", "status"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: config file {cfg} is owned by another user (nobody) "
        f"(next: run: chown root {cfg}, or use a copy of your own)\n"
    )


class TestDefaultConfigPath:
    """The default file (~/.config/proaudit/config.toml) that is there but broken is an error,
    not a silent "no config" (which would be the sandbox)."""

    @pytest.fixture
    def default(self, isolated_env: Path) -> Path:
        folder = Path(os.environ["XDG_CONFIG_HOME"]) / "proaudit"
        folder.mkdir(parents=True, mode=0o700)
        return folder / "config.toml"

    def test_dangling_symlink(self, default: Path) -> None:
        default.symlink_to(default.parent / "gone.toml")
        assert "no such file" in refused(None).message

    def test_a_directory(self, default: Path) -> None:
        default.mkdir()
        assert "is a directory" in refused(None).message

    def test_the_folder_is_a_file(self, default: Path) -> None:
        os.rmdir(default.parent)
        default.parent.write_text("oops: the config was copied to ~/.config/proaudit\n")
        assert "a part of the path is a file" in refused(None).message

    def test_a_good_default_is_used(self, default: Path) -> None:
        write(default, PLAIN)
        assert load_settings().proaudit_concurrency == 3
