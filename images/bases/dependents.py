"""What is built on what, from the provenance of Dockyard's builds: each
recipe's bases by image id, as the build found them.

A "current" recipe is the latest successful build of its tags (of its image,
for an untagged build): an older build of the same tags has been replaced, so
it depends on nothing any more. Reading them is database work only.
"""

from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import Count, Max

from images.models import Job, Provenance
from images.refs import split_repo_tag

# A chain deeper than this is a loop in the records, not a real build chain.
MOST_LEVELS = 20
RECIPES_CACHE_SECONDS = 24 * 3600


@dataclass
class Recipe:
    build_id: int  # the successful build (a Job): its params are the recipe
    image_id: str  # what it made
    name: str  # its first tag, or its short id
    bases: list  # its provenance's bases: instruction, line, reference, image_id, repo_digest, resolved


@dataclass
class Dependent:
    recipe: Recipe
    level: int  # 1: built on the base itself
    needs: list = field(default_factory=list)  # image ids of the dependents it is built on


def current_recipes(engine_name):
    """{image id: Recipe} of the current recipes on an engine, kept (in this
    process and the shared cache) until another build succeeds there: a job's outcome never changes
    once it has ended, so the newest such build and their number say whether
    what was read still holds (one aggregate query)."""
    builds = _successful_builds(engine_name)
    newest = builds.aggregate(newest=Max("job_id"), count=Count("job_id"), at=Max("job__finished_at"))
    # The time too: two databases on one Redis (test runs, installations) may both have a job 5 of 1.
    stamp = newest["at"].timestamp() if newest["at"] else 0
    key = f"dockyard:current-recipes:{engine_name}:{newest['newest']}:{newest['count']}:{stamp}"
    held = _held.get(engine_name)
    if held is not None and held[0] == key:
        return held[1]
    found = cache.get(key)
    if found is None:
        found = _read_recipes(builds)
        cache.set(key, found, timeout=RECIPES_CACHE_SECONDS)
    _held[engine_name] = (key, found)
    return found


# This process's last read, per engine: the shared cache's copy costs an unpickling (50-70 ms for 5,000 builds).
# Callers only read what it returns.
_held = {}


def _successful_builds(engine_name):
    return Provenance.objects.filter(job__engine=engine_name, job__kind=Job.Kind.BUILD,
                                     job__state=Job.State.SUCCEEDED).exclude(job__image_id="")


def _read_recipes(builds):
    """Only the columns it needs, the tags read out of the params by the
    database: a recipe's params carry its Dockerfile text."""
    rows = builds.order_by("-job__finished_at", "-job__pk").values_list("job_id", "job__image_id",
                                                                        "job__params__tags", "bases")
    seen, found = set(), {}
    for build_id, image_id, tags, bases in rows.iterator(chunk_size=2000):
        tags = tuple(tags or ())
        key = tags or image_id
        if key in seen:
            continue
        seen.add(key)
        if image_id not in found:
            found[image_id] = Recipe(build_id=build_id, image_id=image_id,
                                     name=tags[0] if tags else image_id.removeprefix("sha256:")[:12], bases=bases)
    return found


def dependents_of(engine_name, base_image_id, recipes=None):
    """The current recipes built on `base_image_id`, directly or through other
    such recipes, in topological order (a recipe after every one it is built
    on; by name within a level)."""
    recipes = current_recipes(engine_name) if recipes is None else recipes
    built_on = {}
    for recipe in recipes.values():
        for base in recipe.bases:
            if base.get("image_id") and base["image_id"] != recipe.image_id:
                built_on.setdefault(base["image_id"], []).append(recipe)
    reached, frontier = {}, [base_image_id]
    for _ in range(MOST_LEVELS):
        following = []
        for image_id in frontier:
            for recipe in built_on.get(image_id, ()):
                if recipe.image_id not in reached and recipe.image_id != base_image_id:
                    reached[recipe.image_id] = recipe
                    following.append(recipe.image_id)
        if not following:
            break
        frontier = following
    levels = {base_image_id: 0}

    def level_of(image_id, depth=0):
        if image_id not in levels:
            if depth > MOST_LEVELS:
                return MOST_LEVELS
            levels[image_id] = 1 + max(level_of(base["image_id"], depth + 1) for base in reached[image_id].bases
                                       if base.get("image_id") in reached or base.get("image_id") == base_image_id)
        return levels[image_id]

    found = [Dependent(recipe=recipe, level=level_of(image_id),
                       needs=sorted({base["image_id"] for base in recipe.bases if base.get("image_id") in reached}))
             for image_id, recipe in reached.items()]
    return sorted(found, key=lambda dependent: (dependent.level, dependent.recipe.name, dependent.recipe.image_id))


@dataclass
class BuiltOn:
    reference: str  # as the Dockerfile names it
    image_id: str
    repo_digest: str
    instruction: str
    built_by_dockyard: bool  # the chain goes on below it


def built_on(engine_name, image_id, recipes=None):
    """The chain below an image: its bases, then theirs where Dockyard built
    them, down to images from a registry (or built elsewhere). [BuiltOn], the
    image's own bases first."""
    recipes = current_recipes(engine_name) if recipes is None else recipes
    chain, seen, frontier = [], {image_id}, [image_id]
    for _ in range(MOST_LEVELS):
        following = []
        for below in frontier:
            recipe = recipes.get(below)
            for base in recipe.bases if recipe else ():
                base_id = base.get("image_id") or ""
                if base_id and base_id in seen:
                    continue
                seen.add(base_id)
                chain.append(BuiltOn(reference=base["reference"], image_id=base_id,
                                     repo_digest=base.get("repo_digest") or "", instruction=base["instruction"],
                                     built_by_dockyard=base_id in recipes))
                if base_id in recipes:
                    following.append(base_id)
        if not following:
            break
        frontier = following
    return chain


# The dependents drawing: boxes in columns by level, the base in column 0.
BOX_WIDTH, BOX_HEIGHT, COLUMN_GAP, ROW_GAP, MARGIN = 200, 32, 48, 12, 4


def layout(base_name, base_image_id, dependents):
    """Where the dependents graph draws each box and line (an SVG the page
    renders on the server): {width, height, nodes: [{x, y, name, image_id,
    level}], edges: [{x1, y1, x2, y2}]}."""
    nodes = [(base_image_id, base_name, 0)] + [(dependent.recipe.image_id, dependent.recipe.name, dependent.level)
                                                for dependent in dependents]
    edges = [(needed, dependent.recipe.image_id) for dependent in dependents
             for needed in dependent.needs or [base_image_id]]
    return draw(nodes, edges)


def draw(nodes, edges):
    """Boxes in columns by level, in the order given within a column; a line
    from the right of each (from, to) pair's first box to the left of its
    second. `nodes`: [(image id, name, level)]."""
    columns = {}
    for image_id, name, level in nodes:
        columns.setdefault(level, []).append((name, image_id))
    drawn, where = [], {}
    for level, entries in sorted(columns.items()):
        for row, (name, image_id) in enumerate(entries):
            x = MARGIN + level * (BOX_WIDTH + COLUMN_GAP)
            y = MARGIN + row * (BOX_HEIGHT + ROW_GAP)
            where[image_id] = (x, y)
            drawn.append({"x": x, "y": y, "name": name, "image_id": image_id, "level": level,
                          "text_x": x + 8, "text_y": y + BOX_HEIGHT // 2 + 5})
    lines = []
    for start, end in edges:
        (x1, y1), (x2, y2) = where[start], where[end]
        lines.append({"x1": x1 + BOX_WIDTH, "y1": y1 + BOX_HEIGHT // 2, "x2": x2, "y2": y2 + BOX_HEIGHT // 2})
    width = MARGIN * 2 + (max(columns) + 1) * BOX_WIDTH + max(columns) * COLUMN_GAP
    height = MARGIN * 2 + max(len(entries) for entries in columns.values()) * (BOX_HEIGHT + ROW_GAP) - ROW_GAP
    return {"width": width, "height": height, "box_width": BOX_WIDTH, "box_height": BOX_HEIGHT,
            "nodes": drawn, "edges": lines}


# The repository graph shows this many of its latest recipes.
REPOSITORY_RECIPES = 20


def repository_graph(engine_name, repository, recipes=None):
    """The drawing of a repository's recent images (its latest current
    recipes) and what each is built on; None when Dockyard built none there."""
    recipes = current_recipes(engine_name) if recipes is None else recipes
    mine = sorted((recipe for recipe in recipes.values() if split_repo_tag(recipe.name)[0] == repository),
                  key=lambda recipe: -recipe.build_id)[:REPOSITORY_RECIPES]
    if not mine:
        return None
    by_id = {recipe.image_id: recipe for recipe in mine}
    names, edges = {recipe.image_id: recipe.name for recipe in mine}, []
    for recipe in mine:
        for base in recipe.bases:
            if base.get("image_id") and base["image_id"] != recipe.image_id:
                names.setdefault(base["image_id"], base["reference"])
                edges.append((base["image_id"], recipe.image_id))
    levels = {}

    def level_of(image_id, depth=0):
        if image_id not in by_id or depth > MOST_LEVELS:
            return 0
        if image_id not in levels:
            levels[image_id] = 1 + max((level_of(base["image_id"], depth + 1) for base in by_id[image_id].bases
                                        if base.get("image_id") and base["image_id"] != image_id), default=-1)
        return levels[image_id]

    nodes = sorted(((image_id, name, level_of(image_id)) for image_id, name in names.items()),
                   key=lambda node: (node[2], node[1]))
    return draw(nodes, sorted(set(edges)))
