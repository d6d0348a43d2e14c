"""Prepares docs/openapi.json for openapi-python-client (0.29), which rejects one valid
OpenAPI 3.0 construct that poem-openapi emits for documented fields of a referenced type:

    {"allOf": [{"$ref": "#/components/schemas/Track"}, {"description": "..."}], "description": "..."}

("Cannot take allOf a non-object" for enums and newtypes; the schemas using them are dropped).
Each such wrapper becomes the plain reference with its description beside it, or, for a
`nullable` property, `allOf` of the reference alone (the OpenAPI 3.0 way to say "this type or
null", which the generator understands). Either means the same as before; nothing else
changes. Usage: normalize_spec.py IN OUT
"""

import json
import sys


def collapse(node):
    if isinstance(node, list):
        return [collapse(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: collapse(v) for k, v in node.items()}
    parts = node.get("allOf")
    if isinstance(parts, list):
        refs = [p for p in parts if isinstance(p, dict) and "$ref" in p]
        rest = [p for p in parts if p not in refs]
        if len(refs) == 1 and all(set(p) <= {"description"} for p in rest):
            out = {k: v for k, v in node.items() if k != "allOf"}
            if node.get("nullable"):
                out["allOf"] = refs
            else:
                out["$ref"] = refs[0]["$ref"]
            return out
    return node


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        spec = json.load(f)
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(collapse(spec), f, indent=1)


if __name__ == "__main__":
    main()
