"""Fetching Pulsar's jars: cache stamp, distribution unpacking, clear errors for missing tools."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from pulsarload.broker import jvm, maven
from pulsarload.broker.standalone import BrokerError
from pulsarload.config import LocalBrokerSettings

VERSION = "9.9.9"


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PULSARLOAD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PULSARLOAD_PULSAR_SOURCE", raising=False)
    return tmp_path / "cache"


def fake_release(source: str, jars: int = 2) -> None:
    lib = maven.lib_dir(VERSION)
    lib.mkdir(parents=True)
    for i in range(jars):
        (lib / f"a{i}.jar").write_bytes(b"PK")
    stamp = {"version": VERSION, "source": source, "pom": maven.pom_digest(), "jars": jars}
    (maven.release_dir(VERSION) / maven.STAMP_NAME).write_text(json.dumps(stamp))


def test_cached_release_is_reused_without_maven(monkeypatch) -> None:
    fake_release("dist")
    monkeypatch.setenv("PATH", "")  # no mvn: must not be needed
    jars = maven.ensure_classpath(LocalBrokerSettings(pulsar_version=VERSION))
    assert [j.name for j in jars] == ["a0.jar", "a1.jar"]


def test_stamp_checks(monkeypatch) -> None:
    fake_release("tree")
    stamp = maven.read_stamp(VERSION)
    assert maven.stamp_is_valid(stamp, VERSION, "auto")
    assert maven.stamp_is_valid(stamp, VERSION, "tree")
    assert not maven.stamp_is_valid(stamp, VERSION, "dist")  # another source was asked for
    assert not maven.stamp_is_valid(stamp, "1.0.0", "auto")
    assert not maven.stamp_is_valid({**stamp, "pom": "changed"}, VERSION, "auto")
    (maven.lib_dir(VERSION) / "a0.jar").unlink()  # a jar went missing
    assert not maven.stamp_is_valid(stamp, VERSION, "auto")
    assert not maven.stamp_is_valid(None, VERSION, "auto")


def test_missing_maven_is_one_clear_line(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError) as err:
        maven.ensure_classpath(LocalBrokerSettings(pulsar_version=VERSION), quiet=True)
    msg = str(err.value)
    assert "Maven (`mvn`) not found" in msg and "apt-get install maven" in msg
    assert "\n" not in msg


def test_failing_maven_names_the_cause_and_the_log(monkeypatch, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    mvn = bindir / "mvn"
    mvn.write_text(
        "#!/bin/sh\necho '[ERROR] Failed to execute goal on project x: "
        "Could not find artifact org.apache.pulsar:foo:jar:9.9.9 -> [Help 1]'\nexit 1\n"
    )
    mvn.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    with pytest.raises(BrokerError) as err:
        maven.ensure_classpath(LocalBrokerSettings(pulsar_version=VERSION), quiet=True)
    msg = str(err.value)
    assert "Could not find artifact org.apache.pulsar:foo:jar:9.9.9" in msg
    assert "dist:" in msg and "tree:" in msg  # both ways were tried
    assert str(maven.maven_log_path(VERSION)) in msg
    assert maven.read_stamp(VERSION) is None


def test_unknown_source_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("PULSARLOAD_PULSAR_SOURCE", "svn")
    with pytest.raises(BrokerError, match="PULSARLOAD_PULSAR_SOURCE"):
        maven.ensure_classpath(LocalBrokerSettings(pulsar_version=VERSION))


def test_extract_lib_takes_only_top_level_lib_jars(tmp_path: Path) -> None:
    tarball = tmp_path / "d.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name in ("p/lib/x.jar", "p/lib/y.jar", "p/lib/notes.txt", "p/bin/pulsar",
                     "p/lib/presto/z.jar", "p/instances/i.jar"):  # fmt: skip
            data = name.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "out"
    out.mkdir()
    assert maven.extract_lib(tarball, out) == 2
    assert sorted(p.name for p in out.iterdir()) == ["x.jar", "y.jar"]
    assert (out / "x.jar").read_bytes() == b"p/lib/x.jar"


def test_extract_lib_rejects_a_broken_archive(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(BrokerError, match="cannot unpack"):
        maven.extract_lib(bad, tmp_path)


def test_maven_uses_private_repo_and_central_only_settings(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cmd = maven.maven_base_command("mvn")
    assert f"-Dmaven.repo.local={maven.maven_repo()}" in cmd
    settings = Path(cmd[cmd.index("-s") + 1])
    assert "<mirrorOf>*</mirrorOf>" in settings.read_text()


def test_users_own_maven_settings_are_respected(monkeypatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".m2").mkdir(parents=True)
    (home / ".m2" / "settings.xml").write_text("<settings/>")
    monkeypatch.setenv("HOME", str(home))
    assert "-s" not in maven.maven_base_command("mvn")


@pytest.mark.parametrize(
    "output,major",
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ('openjdk version "17-internal" 2021-09-14', 17),
        ("garbage", None),
    ],
)
def test_parse_java_major(output: str, major: int | None) -> None:
    assert jvm.parse_java_major(output) == major


def test_missing_java_is_one_clear_line(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    jvm.find_java.cache_clear()
    try:
        with pytest.raises(BrokerError) as err:
            jvm.find_java()
    finally:
        jvm.find_java.cache_clear()
    msg = str(err.value)
    assert msg.startswith("Java not found") and "JDK 17+" in msg and "\n" not in msg


def test_old_java_is_refused(monkeypatch, tmp_path: Path) -> None:
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    jvm.find_java.cache_clear()
    try:
        with pytest.raises(BrokerError, match="is Java 11, Pulsar needs 17"):
            jvm.find_java()
    finally:
        jvm.find_java.cache_clear()
