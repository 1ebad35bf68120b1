import pytest
from django.urls import reverse


@pytest.mark.parametrize("address", ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1"])
@pytest.mark.parametrize("page", [("images-list", []), ("images-detail", ["dockyard-test/x:1"])])
def test_it_says_which_engine_did_not_answer(owner_client, settings, address, page):
    settings.DOCKYARD_ENGINES = {"default": address}
    response = owner_client.get(reverse(page[0], args=page[1]))
    assert response.status_code == 503
    body = response.content.decode()
    assert "The Docker engine is not answering" in body
    assert f"<code>{address}</code>" in body
    assert "Traceback" not in body
