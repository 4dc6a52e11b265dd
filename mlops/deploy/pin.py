"""Edit one pin of an environment file (record an image digest, or pin another version), only that pin's text.

``environments/<env>.yaml`` is reviewed by people: comments, order and layout stay as they are. The
pin ``model: VERSION`` (or ``{version: …, image: …}``, flow or block) becomes
``model: {version: VERSION, image: sha256:…}``; in a block mapping only the ``image:`` line is
written. The environment must already pin this version: changing the version is a promotion, made by
its own pull request. The new text is validated before it atomically replaces the file.
"""

from __future__ import annotations

import yaml

from mlops.core import atomic, yamlpos
from mlops.core.errors import Problem, UserError
from mlops.core.repo import Repository
from mlops.core.spec.environment import Environment
from mlops.core.spec.load import validate


def _child(mapping: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(mapping, yaml.MappingNode):
        for k, v in mapping.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None


def _at(path: str, node: yaml.Node, message: str) -> UserError:
    return UserError(Problem(path, node.start_mark.line + 1, node.start_mark.column + 1, message))


def edit_pin(text: str, path: str, model: str, version: str, digest: str) -> str:
    """``text`` with ``model``'s pin carrying ``image: digest``; raises when the pin is not ``version``."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    pins = _child(root, "pins") if root is not None else None
    entry = _child(pins[1], model) if pins is not None else None
    if pins is None or entry is None:
        node = pins[0] if pins is not None else root
        raise UserError(Problem(path, node.start_mark.line + 1 if node else 1, 1,
                                f"{model} is not pinned here; pin version {version} first (a promotion pull request)"))
    _key, value = entry
    pinned = value.value if isinstance(value, yaml.ScalarNode) else None
    if isinstance(value, yaml.MappingNode):
        found = _child(value, "version")
        pinned = found[1].value if found is not None and isinstance(found[1], yaml.ScalarNode) else None
    if pinned != version:
        raise _at(path, value, f"pins {model} at {pinned!r}, not {version!r}; an image digest is recorded only for "
                               "the pinned version (promote it first)")
    if isinstance(value, yaml.MappingNode) and not value.flow_style:
        image = _child(value, "image")
        if image is not None:
            start, end = image[1].start_mark.index, image[1].end_mark.index
            space = " " if text[start - 1] == ":" else ""  # `image:` with no value yet
            return text[:start] + f'{space}"{digest}"' + text[end:]
        version_key = _child(value, "version")
        assert version_key is not None
        line_end = text.index("\n", version_key[1].end_mark.index) if "\n" in text[version_key[1].end_mark.index:] \
            else len(text)
        indent = " " * version_key[0].start_mark.column
        return text[:line_end] + f'\n{indent}image: "{digest}"' + text[line_end:]
    if value.start_mark.line != value.end_mark.line:
        raise _at(path, value, f"the pin of {model} spans several lines in flow style; write it as a block mapping")
    replacement = f'{{version: {version}, image: "{digest}"}}'
    return text[:value.start_mark.index] + replacement + text[value.end_mark.index:]


def pin_image(repo: Repository, env: str, model: str, version: str, digest: str) -> str:
    """Write ``digest`` into ``env``'s pin of ``model`` (which must pin ``version``); return the file's path."""
    loaded = repo.environments[env]
    file = repo.root / loaded.doc.path
    text = file.read_text(encoding="utf-8")
    new = edit_pin(text, loaded.doc.path, model, version, digest)
    spec = validate(yamlpos.parse(new, loaded.doc.path), Environment)
    pin = spec.pin(model)
    if pin is None or pin.version != version or pin.image != digest:  # pragma: no cover - edit_pin's guarantee
        raise UserError.at(loaded.doc.path, f"could not record the image of {model} in the pin")
    if new != text:
        atomic.write_text(file, new)
    return loaded.doc.path


def _pin_value(version: str, image: str | None) -> str:
    return f'{{version: {version}, image: "{image}"}}' if image else version


def set_pin(text: str, path: str, model: str, version: str | None, image: str | None = None) -> str:
    """``text`` with ``model`` pinned at ``version`` (with ``image`` when given); ``None`` removes the pin.

    A promotion, a rollback and a retraining PR change a pin this way: the line of that pin changes (or one
    line is added), nothing else — comments and layout stay for the reviewers. Flow (``pins: {a: v}``) and block
    mappings are both handled; a pin that spans several lines is replaced as a whole.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    pins = _child(root, "pins") if root is not None else None
    if pins is None:
        raise UserError(Problem(path, 1, 1, "no 'pins' mapping; expected `pins: {}` in the environment file"))
    key, mapping = pins
    if not isinstance(mapping, yaml.MappingNode):
        raise _at(path, mapping, "pins is not a mapping; expected `pins: {model: version, …}`")
    entry = _child(mapping, model)
    value = _pin_value(version, image) if version else ""
    if mapping.flow_style:
        items = [(k.value, text[v.start_mark.index:v.end_mark.index]) for k, v in mapping.value
                 if isinstance(k, yaml.ScalarNode) and k.value != model]
        if version:
            items.append((model, value))
        body = ", ".join(f"{k}: {v}" for k, v in sorted(items))
        return text[:mapping.start_mark.index] + "{" + body + "}" + text[mapping.end_mark.index:]
    if entry is not None:
        k, v = entry
        if version and v.start_mark.line == v.end_mark.line:  # one line: only the value (a comment after it stays)
            return text[:v.start_mark.index] + value + text[v.end_mark.index:]
        start = text.rfind("\n", 0, k.start_mark.index) + 1
        end = v.end_mark.index if text[v.end_mark.index - 1] == "\n" else text.find("\n", v.end_mark.index) + 1
        end = len(text) if end <= 0 else end
        line = f"{' ' * k.start_mark.column}{model}: {value}\n" if version else ""
        return text[:start] + line + text[end:]
    if not version:
        return text
    column = mapping.value[0][0].start_mark.column if mapping.value else key.start_mark.column + 2
    end = text.find("\n", mapping.end_mark.index - 1)
    insert = len(text) if end < 0 else end + 1
    return text[:insert] + f"{' ' * column}{model}: {value}\n" + text[insert:]


def pinned_text(repo: Repository, env: str, model: str, version: str | None, image: str | None = None) -> str:
    """The environment file's new text with the pin changed, validated (not written)."""
    loaded = repo.require_environment(env)
    text = (repo.root / loaded.doc.path).read_text(encoding="utf-8")
    new = set_pin(text, loaded.doc.path, model, version, image)
    spec = validate(yamlpos.parse(new, loaded.doc.path), Environment)
    pin = spec.pin(model)
    if (pin.version if pin else None) != version:  # pragma: no cover - set_pin's guarantee
        raise UserError.at(loaded.doc.path, f"could not pin {model} at {version}")
    return new
