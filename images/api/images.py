"""Images: the list and one image with its history."""

from datetime import datetime

from ninja import Query, Router, Schema
from pydantic import BaseModel, ConfigDict, Field

from images.catalog import history, inspect, listing
from images.api.auth import allowed
from images.api.schemas import errors
from images.catalog.forms import ImageListForm
from images.catalog.detail import check_reference

router = Router(tags=["images"])


class ImageFilters(Schema):
    q: str = Field("", description="Part of a repository, tag or id.")
    state: str = Field("", description="dangling, in-use or unused; anything else: all.")
    sort: str = Field(listing.DEFAULT_SORT, description=f"One of {', '.join(listing.SORTS)}.")


# The list's rows are plain pydantic models: ninja's Schema reads each attribute
# through a wrapper, which for the thousands of rows of a big host costs 4x.
class Totals(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    images: int
    tags: int
    dangling: int
    size: int


class ImageRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(validation_alias="image_id")
    repository: str
    tag: str
    created: datetime
    size: int
    containers: int = Field(description="Containers made from it, stopped ones included.")
    dangling: bool


class ImageList(BaseModel):
    totals: Totals
    images: list[ImageRow]


class Config(Schema):
    entrypoint: list[str]
    cmd: list[str]
    workdir: str
    user: str
    env: list[str]
    exposed_ports: list[str]
    volumes: list[str]
    labels: dict[str, str]


class HistoryLayer(Schema):
    id: str = Field(description="<missing> for layers built elsewhere.")
    created: datetime | None
    instruction: str = Field(description="The Dockerfile line that made the layer, cleaned.")
    build_args: str
    created_by: str = Field(description="The engine's own record of it.")
    size: int
    empty: bool
    comment: str

    @staticmethod
    def resolve_instruction(layer):
        return str(layer.instruction)

    @staticmethod
    def resolve_build_args(layer):
        return layer.instruction.build_args


class Image(Schema):
    id: str
    tags: list[str]
    digests: list[str]
    created: datetime | None
    size: int
    platform: str
    config: Config
    history: list[HistoryLayer] = Field(description="Newest layer first.")


@router.get("/images", response={200: ImageList, **errors(400, 503)}, auth=allowed("browse"))
def images_list(request, filters: Query[ImageFilters]):
    """The image list.

    One row per repository:tag and per dangling image, filtered and sorted as on the image list, with totals.
    """
    options = ImageListForm(filters.dict()).options()
    engine = request.engine
    images = engine.list_images()
    rows = listing.image_rows(images, engine.list_containers())
    return {"totals": listing.totals(images),
            "images": listing.select_rows(rows, options["q"], options["state"], options["sort"])}


@router.get("/images/{path:reference}", response={200: Image, **errors(404, 503)}, auth=allowed("browse"))
def image_detail(request, reference: str):
    """One image.

    By id, short id or reference: its tags, digests, configuration and layer history.
    """
    check_reference(reference)
    engine = request.engine
    data = engine.inspect_image(reference)
    summary = inspect.summarize(data)
    return {**summary.__dict__, "platform": summary.platform, "config": summary.__dict__,
            "history": history.layers_from_history(engine.image_history(data["Id"]))}
