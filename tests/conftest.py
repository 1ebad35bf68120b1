import pytest
from django.contrib.auth import get_user_model

from images.engine import get_engine
from tests import dockerlib


@pytest.fixture(scope="session")
def engine():
    engine = get_engine()
    engine.ping()
    return engine


@pytest.fixture(scope="session")
def base_image(engine):
    dockerlib.remove_test_images()
    image = dockerlib.import_base_image()
    yield image
    dockerlib.remove_test_images()


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("owner", password="owner-password-1")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
