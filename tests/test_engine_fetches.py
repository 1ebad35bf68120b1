"""The engine fetches for whoever asks: ADD <url> in a Dockerfile, FROM and
COPY --from images, pulls and pushes. Dockyard refuses, before any job is
made, the ones that would reach this host's or its network's own services, and
the worker checks an old recipe again. No test here sends anything to a
non-loopback address: the refusals happen before any fetch."""

import html
import ipaddress
import json
import io
import os
import re
import socket
import subprocess
import sys
import tarfile
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from images.builds import contexts, dockerfile, fetches
from images.jobs import running
from images.models import Job, Registry
from tests import dockerlib, live

BASE = dockerlib.BASE_IMAGE

INSIDE_URLS = [
    "http://127.0.0.1:8000/secret", "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/x",
    "http://[::1]:5000/x", "http://2130706433/x", "http://0x7f.1/x", "http://0177.0.0.1/x",
    "http://[::ffff:127.0.0.1]/x", "http://localhost/x", "http://LOCALHOST./x", "https://192.168.1.1/x",
    "http://172.16.0.1/x", "http://100.64.0.1/x", "http://0.0.0.0/x", "http://224.0.0.1/x",
    "http://[fe80::1%25eth0]/x", "http://[64:ff9b::a9fe:a9fe]/x", "http://user:pw@127.0.0.1/x",
]


def page_text(response):
    return html.unescape(response.content.decode())


@pytest.fixture
def loopback_registries_refused(settings):
    settings.DOCKYARD_REGISTRY_HOSTS = ["docker.io"]  # the production default


@pytest.mark.parametrize("url", INSIDE_URLS)
def test_it_refuses_a_typed_dockerfile_that_adds_from_inside(builder_client, url):
    response = builder_client.post(reverse("jobs-build"), {
        "source": "dockerfile", "dockerfile_text": f"FROM {BASE}\nADD {url} /x\n", "dockerfile": "Dockerfile"})
    assert response.status_code == 200
    assert "builds may fetch only from public addresses" in page_text(response)
    assert not Job.objects.exists()


@pytest.mark.parametrize("text", [
    "FROM {base}\nadd --chown=1:1 http://127.0.0.1/x /x\n",
    'FROM {base}\nADD ["http://169.254.169.254/latest", "/x"]\n',
    "FROM {base}\nADD \\\n  # a comment inside the continuation\n  http://10.0.0.1/x \\\n  /x\n",
    "# escape=`\nFROM {base}\nADD `\n http://[::1]/x /x\n",
    "ARG SITE=127.0.0.1\nFROM {base}\nADD http://${{SITE}}/x /x\n",
    "FROM {base}\nENV SITE=2130706433\nADD http://$SITE/x /x\n",
    "FROM {base}\nONBUILD ADD http://127.0.0.1/x /x\n",
    'FROM {base}\nADD "http://127.0.0.1/x" /x\n',
    "FROM {base}\nADD http://127.0.0.\\1/x /x\n",
    "# syntax=docker/dockerfile:1\n# escape=`\nFROM {base}\nADD `\n http://127.0.0.1/x /x\n",
    "FROM {base}\nADD http://93.184.216.34/ok http://127.0.0.1/x /dir/\n",
])
def test_it_reads_the_dockerfile_as_the_builder_does(text):
    with pytest.raises(fetches.FetchRefused, match="not .*public|public addresses"):
        fetches.check_dockerfile(text.format(base=BASE))


def test_it_takes_a_build_arg_as_a_value_of_its_variable():
    text = f"ARG SITE=93.184.216.34\nFROM {BASE}\nARG SITE\nADD http://$SITE/x /x\n"
    with pytest.raises(fetches.FetchRefused, match="127.0.0.1, a loopback address"):
        fetches.check_dockerfile(text, {"SITE": "127.0.0.1"})


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1 x/", "not a host name"), ("http://0x7g.1/", "not an address"),
    ("http://exa\\mple.com/", "not a host name"),
])
def test_it_refuses_a_host_it_cannot_read_without_looking_it_up(url, reason):
    with pytest.raises(fetches.FetchRefused, match=reason):
        fetches.check_fetch_url(url)


def test_it_refuses_what_it_cannot_expand_in_bounds():
    many = "".join(f"ARG V{i}=1\nARG V{i}=2\n" for i in range(9))  # addresses: no look-ups
    with pytest.raises(fetches.FetchRefused, match="more than 256 values"):
        fetches.check_dockerfile(f"{many}FROM {BASE}\nADD http://" + "".join(f"$V{i}" for i in range(9)) + " /x\n")
    with pytest.raises(fetches.FetchRefused, match="nests variables too deeply"):
        fetches.check_dockerfile(f"FROM {BASE}\nENV A=$A/x\nADD http://$A /x\n")


def test_it_lets_public_addresses_and_allowed_hosts_through(settings):
    # Literal public addresses are checked without a lookup; nothing is fetched.
    fetches.check_dockerfile(f"FROM {BASE}\nADD http://93.184.216.34/x /x\nCOPY --from=0 /a /b\n")
    with pytest.raises(fetches.FetchRefused):
        fetches.check_fetch_url("http://127.0.0.1:8080/x")
    settings.DOCKYARD_BUILD_FETCH_HOSTS = ["127.0.0.1"]
    assert fetches.check_fetch_url("http://127.0.0.1:8080/x")


@pytest.mark.django_db
@pytest.mark.usefixtures("loopback_registries_refused")
@pytest.mark.parametrize("text, where", [
    (f"FROM {BASE} AS one\nFROM one\nCOPY --from=127.0.0.1:5000/team/app /a /b\n", "COPY --from=127.0.0.1:5000"),
    ("FROM 127.0.0.1:5000/team/app\n", "FROM 127.0.0.1:5000/team/app"),
    ("ARG BASE=localhost:5000/app\nFROM ${BASE}\n", "FROM ${BASE}"),
    ("FROM --platform=linux/amd64 [::1]:5000/app\n", "FROM [::1]:5000/app"),
])
def test_it_refuses_images_from_registries_not_allowed(text, where):
    with pytest.raises(fetches.FetchRefused, match=rf"^{re.escape(where)}"):
        fetches.check_dockerfile(text)


@pytest.mark.unaudited("the registry row stands in for one added on the Registries page")
@pytest.mark.usefixtures("db", "loopback_registries_refused")
def test_it_allows_stages_docker_hub_and_registries_on_the_registries_page():
    fetches.check_dockerfile(f"FROM {BASE} AS build\nFROM scratch\nCOPY --from=build /a /b\nCOPY --from=0 /a /b\n")
    registry = Registry(address="127.0.0.1:5000", username="u")
    registry.set_password("registry-pw")
    registry.save()
    fetches.check_dockerfile("FROM 127.0.0.1:5000/team/app\n")
    with pytest.raises(fetches.FetchRefused):
        fetches.check_dockerfile("FROM 127.0.0.1:5001/team/app\n")


@pytest.mark.django_db
def test_a_star_allows_every_registry(settings):
    settings.DOCKYARD_REGISTRY_HOSTS = ["*"]
    assert fetches.check_registry("127.0.0.1:5001/team/app")


@pytest.mark.usefixtures("loopback_registries_refused")
def test_it_refuses_a_pull_from_a_loopback_registry_by_default(builder_client):
    response = builder_client.post(reverse("jobs-pull"), {"reference": "127.0.0.1:5000/dockyard-test/x:1"})
    assert response.status_code == 200
    assert "Pulls and pushes may not use the registry 127.0.0.1:5000" in page_text(response)
    assert not Job.objects.exists()


@pytest.mark.usefixtures("loopback_registries_refused")
def test_it_refuses_a_push_to_a_loopback_registry_by_default(builder_client, base_image):
    response = builder_client.post(reverse("images-push", args=[base_image.split(":")[1]]),
                                   {"tag": "127.0.0.1:5000/dockyard-test/x:1"}, follow=True)
    assert "may not use the registry 127.0.0.1:5000" in page_text(response)
    assert not Job.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("loopback_registries_refused")
@pytest.mark.parametrize("kind", [Job.Kind.PULL, Job.Kind.PUSH])
def test_the_worker_refuses_an_old_recipe_for_a_registry_not_allowed(kind):
    job = Job(kind=kind, target="x", params={"reference": "127.0.0.1:5000/dockyard-test/x:1"})
    with pytest.raises(fetches.FetchRefused, match="127.0.0.1:5000"):
        running._RUNNERS[kind](job, stream=None, output=None)


@pytest.mark.django_db
def test_the_worker_refuses_an_old_build_recipe_that_adds_from_inside(tmp_path, settings):
    text = f"FROM {BASE}\nADD http://169.254.169.254/latest/meta-data/ /x\n"
    with pytest.raises(fetches.FetchRefused, match="169.254.169.254, a link-local address"):
        running._build(Job(kind=Job.Kind.BUILD, params={"source": "dockerfile", "dockerfile_text": text}), None, None)
    settings.DOCKYARD_CONTEXT_DIR = tmp_path
    data = text.encode()
    with tarfile.open(tmp_path / "old.tar", "w") as tar:
        info = tarfile.TarInfo("sub/Dockerfile.web")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    params = {"source": "upload", "context_file": "old.tar", "context_format": "tar",
              "dockerfile": "sub/Dockerfile.web"}
    with pytest.raises(fetches.FetchRefused, match="169.254.169.254"):
        running._build(Job(kind=Job.Kind.BUILD, params=params), None, None)


def _upload(files, name="context.tar"):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return SimpleUploadedFile(name, buffer.getvalue())


def test_it_refuses_an_uploaded_context_whose_dockerfile_adds_from_inside(builder_client):
    upload = _upload({"ci/Dockerfile": f"FROM {BASE}\nADD http://127.0.0.1:6379/ /x\n", "a.txt": "a"})
    response = builder_client.post(reverse("jobs-build"), {"source": "upload", "context": upload,
                                                           "dockerfile": "ci/Dockerfile"})
    assert "127.0.0.1, a loopback address" in page_text(response)
    assert not Job.objects.exists()


def test_it_refuses_a_server_directory_whose_dockerfile_adds_from_inside(builder_client, settings, tmp_path):
    settings.DOCKYARD_BUILD_ROOTS = [str(tmp_path)]
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(f"FROM {BASE}\nADD http://10.0.0.5/x /x\n")
    response = builder_client.post(reverse("jobs-build"), {"source": "directory", "directory": str(tmp_path / "app"),
                                                           "dockerfile": "Dockerfile"})
    assert "10.0.0.5, a private address" in page_text(response)
    assert not Job.objects.exists()


def test_the_parser_follows_directives_continuations_and_case():
    text = ("# syntax=docker/dockerfile:1\n# escape=`\n\nfrom a AS b\nrun echo `\n  # gone\n  hi\n"
            'Copy --from=b ["/a", "/b"]\n')
    assert dockerfile.parse(text) == [("FROM", {}, ["a", "AS", "b"]), ("RUN", {}, ["echo", "hi"]),
                                      ("COPY", {"from": "b"}, ["/a", "/b"])]


def _settings_in_a_fresh_process(env, expression):
    env = {key: value for key, value in os.environ.items() if not key.startswith("DOCKYARD_REGISTRY")} | env
    return subprocess.run([sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                           f"print({expression})"], cwd=live.ROOT, capture_output=True, text=True,
                          env={**env, "DJANGO_SETTINGS_MODULE": "dashboard.settings"})


def test_it_allows_only_docker_hub_by_default_and_never_the_host_network():
    assert _settings_in_a_fresh_process({}, "settings.DOCKYARD_REGISTRY_HOSTS").stdout.strip() == "['docker.io']"
    refused = _settings_in_a_fresh_process({"DOCKYARD_BUILD_NETWORK": "host"}, "1")
    assert refused.returncode != 0 and "DOCKYARD_BUILD_NETWORK" in refused.stderr


def _bridge_gateway():
    """This host's address on the engine's default bridge (the subnet's first, as
    the engine gives it when the network names no gateway)."""
    config = json.loads(dockerlib.docker("network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}"))[0]
    return config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


@pytest.fixture
def listener():
    """A TCP server on this host's side of the engine's bridge, answering one line."""
    server = socket.socket()
    server.bind((_bridge_gateway(), 0))
    server.listen()
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"reached the host\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()
    stop.set()
    thread.join()
    server.close()


@pytest.mark.django_db
@pytest.mark.parametrize("network, reached", [("default", True), ("none", False)])
def test_it_gives_run_steps_the_build_network(engine, base_image, listener, settings, network, reached):
    settings.DOCKYARD_BUILD_NETWORK = network
    host, port = listener
    text = f"FROM {BASE}\nRUN nc -w 5 {host} {port} </dev/null\nLABEL {dockerlib.TEST_LABEL}=1\n"
    output, image_id = [], None
    with contexts.build_arguments({"source": "dockerfile", "dockerfile_text": text, "no_cache": True}) as arguments:
        for message in engine.stream().build(**arguments):
            output.append(message.get("stream") or message.get("error") or "")
            image_id = (message.get("aux") or {}).get("ID", image_id)
    assert ("reached the host\n" in output) is reached, output
    assert (image_id is not None) is reached
    if image_id:
        dockerlib.docker("rmi", image_id)


@pytest.mark.django_db
def test_an_ipv6_registry_is_allowed_by_its_bracketed_host_on_any_port_or_by_host_and_port(settings):
    settings.DOCKYARD_REGISTRY_HOSTS = ["[::1]"]
    assert fetches.check_registry("[::1]:5000/team/app:1")
    assert fetches.check_registry("[::1]/team/app")
    settings.DOCKYARD_REGISTRY_HOSTS = ["[::1]:5000"]
    assert fetches.check_registry("[::1]:5000/team/app")
    for elsewhere in ("[::1]:5001/team/app", "[::2]:5000/team/app", "[::1]/team/app"):
        with pytest.raises(fetches.FetchRefused, match=r"may not use the registry \[::"):
            fetches.check_registry(elsewhere)
