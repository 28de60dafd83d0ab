"""OpenAPI component names are global: django-ninja (through pydantic) names each schema component after its
class, so two schema classes of one name in two apps share one definition in /api/openapi.json and the docs
show the wrong one for some endpoints. Every component of the API must stand for exactly one class."""

import enum
import re
import typing
from collections import defaultdict

from ninja import NinjaAPI, Router, Schema
from pydantic import BaseModel


def _walk(annotation, found: set) -> None:
    """The schema classes (models and enums) an annotation reaches, nested fields included."""
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            if annotation not in found:
                found.add(annotation)
                for field in annotation.model_fields.values():
                    _walk(field.annotation, found)
            return
        if issubclass(annotation, enum.Enum):
            found.add(annotation)
            return
    for arg in typing.get_args(annotation):
        _walk(arg, found)


def schema_classes(api: NinjaAPI) -> set[type]:
    """Every class behind the API's documented operations: the fields of their parameter and response models
    (those wrappers are ninja's own and become no component)."""
    found: set[type] = set()
    for bound in api._get_bound_routers():
        for path_view in bound.path_operations.values():
            for operation in path_view.operations:
                if not operation.include_in_schema:
                    continue
                wrappers = [*operation.models, *operation.response_models.values()]
                for wrapper in wrappers:
                    if isinstance(wrapper, type) and issubclass(wrapper, BaseModel):
                        for field in wrapper.model_fields.values():
                            _walk(field.annotation, found)
    return found


def _component_name(cls: type) -> str:
    return re.sub(r"[^a-zA-Z0-9.\-_]", "_", cls.__name__)  # as pydantic names a definition


def component_classes(api: NinjaAPI) -> dict[str, list[str]]:
    """Component name of the API's OpenAPI document -> the classes (``module.name``) behind it."""
    by_name = defaultdict(set)
    for cls in schema_classes(api):
        by_name[_component_name(cls)].add(cls)
    names = api.get_openapi_schema(path_prefix="")["components"]["schemas"]
    return {name: sorted(f"{cls.__module__}.{cls.__qualname__}"
                         for cls in by_name.get(re.sub(r"-(Input|Output)$", "", name), ())) for name in names}


def test_every_openapi_component_stands_for_one_schema_class():
    from shoal.api import api

    components = component_classes(api)
    assert len(components) > 150  # every app's routers are in
    unknown = sorted(name for name, classes in components.items() if not classes)
    assert not unknown, f"components whose class the walk did not find (the check is blind to them): {unknown}"
    clashes = {name: classes for name, classes in components.items() if len(classes) > 1}
    assert not clashes, "schema classes sharing one OpenAPI component name (rename one of each):\n" + "\n".join(
        f"{name}: {', '.join(classes)}" for name, classes in sorted(clashes.items()))


def test_the_check_sees_a_clash_between_two_routers_and_a_nested_enum():
    def router_with(model_in, model_out) -> Router:
        router = Router()

        @router.post("/x", response=model_out)
        def view(request, payload: model_in):
            return None

        return router

    class Colour(enum.StrEnum):
        RED = "red"

    class Inner(Schema):
        colour: Colour

    class BatchIn(Schema):
        items: list[Inner]

    class BatchOut(Schema):
        count: int

    first = (BatchIn, BatchOut)

    class Colour(enum.StrEnum):  # noqa: F811  (another app's class of the same name)
        BLUE = "blue"

    class BatchIn(Schema):  # noqa: F811
        ids: list[int]
        colour: Colour | None = None

    api = NinjaAPI(urls_namespace="openapi-names-check")
    api.add_router("/a/", router_with(*first))
    api.add_router("/b/", router_with(BatchIn, BatchOut))
    components = component_classes(api)
    assert set(components) == {"BatchIn", "BatchOut", "Colour", "Inner"}
    assert len(components["BatchIn"]) == 2 and len(components["Colour"]) == 2
    assert len(components["BatchOut"]) == 1 and len(components["Inner"]) == 1
