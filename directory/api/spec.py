"""Print the OpenAPI document (`make openapi` writes the committed `openapi.json`)."""

from __future__ import annotations

import json
import tempfile

from directory import create_app


def document() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"INSTANCE_PATH": folder, "DATABASE_URL": f"sqlite:///{folder}/spec.db",
                          "SECRET_KEY": "spec-only", "ENV": "development"})
        with app.test_client() as client:
            spec: dict[str, object] = client.get("/api/v1/openapi.json").get_json()
    return spec


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
