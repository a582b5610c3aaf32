"""Push the Space folder (``spaces/falsereject_demo``) to the Hub, pinning the package version.

``python spaces/deploy.py --repo-id ORG/falsereject-demo [--dry-run]`` stages the folder in a
temporary directory (no caches, no hidden files), rewrites the ``falsereject`` line of its
``requirements.txt`` to ``falsereject[space,embedded]==<installed version>`` and uploads it
with ``HfApi().upload_folder`` to a ``space`` repo (created if needed, sdk gradio). The token
is read from the environment variable named by ``--token-env`` (default ``HF_TOKEN``) and is
never printed. ``--dry-run`` prints what would be uploaded and touches no network.

The right column shows a FalseReject-tuned model when the deployed Space has one:
``--tuned-model ORG/NAME`` points it at a model on the Hub, ``--tuned-folder PATH`` ships a
local model or LoRA adapter folder inside the Space (``models/tuned``). Either rewrites the
staged ``config.yaml`` (the right column, its title, card link and the README's ``models:``)
and says whether the cached examples cover that model. Without either, the right column is the
prompting baseline and the page says so.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

import yaml

from falsereject.dataset import REPO_ROOT
from falsereject.errors import UserError

SPACE_DIR = REPO_ROOT / "spaces" / "falsereject_demo"
EXTRAS = "space,embedded"
_SKIP_DIRS = {"__pycache__", "outputs", ".git", ".gradio", "flagged"}
_REQ_LINE = re.compile(r"^\s*falsereject(\[[^\]]*\])?\s*([<>=!~].*)?$")


def package_version() -> str:
    """The version being released: the installed distribution's, else pyproject's."""
    try:
        return metadata.version("falsereject")
    except metadata.PackageNotFoundError:
        text = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
        match = re.search(r'^version\s*=\s*"([^"]+)"', text, flags=re.M)
        if not match:
            raise UserError("cannot tell the falsereject version: install the package first") from None
        return match.group(1)


def pin_requirements(text: str, version: str) -> str:
    """``requirements.txt`` with its ``falsereject`` line pinned to ``version`` (added if absent)."""
    pin = f"falsereject[{EXTRAS}]=={version}"
    lines = text.splitlines()
    out, found = [], False
    for line in lines:
        code = line.split("#", 1)[0]
        if _REQ_LINE.match(code):
            out.append(pin)
            found = True
        else:
            out.append(line)
    if not found:
        out.append(pin)
    return "\n".join(out).rstrip("\n") + "\n"


def space_files(folder: Path) -> list[Path]:
    """The files to upload, relative to ``folder`` (no hidden files, caches or run outputs)."""
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part in _SKIP_DIRS for part in rel.parts):
            continue
        if path.is_file() and path.suffix not in (".pyc", ".log"):
            files.append(rel)
    return files


def stage(
    folder: Path,
    version: str,
    dest: Path,
    *,
    tuned_model: str | None = None,
    tuned_folder: Path | None = None,
) -> list[Path]:
    """Copy the Space into ``dest`` with the pinned requirements (and the tuned model, if
    given: see the module's docstring); return the staged files."""
    if not (folder / "app.py").is_file() or not (folder / "README.md").is_file():
        raise UserError(f"{folder} is not a Space folder (it needs app.py and README.md)")
    files = space_files(folder)
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / rel, dest / rel)
    req = dest / "requirements.txt"
    req.write_text(pin_requirements(req.read_text(encoding="utf-8") if req.exists() else "", version))
    if Path("requirements.txt") not in files:
        files.append(Path("requirements.txt"))
    if tuned_model or tuned_folder:
        files += _stage_tuned(dest, tuned_model, tuned_folder)
    return sorted(set(files))


TUNED_DIR = Path("models") / "tuned"
_MODEL_FILES = ("config.json", "adapter_config.json")


def _stage_tuned(dest: Path, hub_id: str | None, folder: Path | None) -> list[Path]:
    """Point the staged config's right column at the tuned model; copy a folder in."""
    from falsereject.space.config import load_space_config

    if hub_id and folder:
        raise UserError("give --tuned-model or --tuned-folder, not both")
    files: list[Path] = []
    if folder is not None:
        folder = Path(folder)
        if not any((folder / name).is_file() for name in _MODEL_FILES):
            raise UserError(f"--tuned-folder {folder}: no config.json or adapter_config.json there")
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and not any(
                p.startswith(".") or p.startswith("checkpoint-") for p in rel.parts
            ):
                target = dest / TUNED_DIR / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
                files.append(TUNED_DIR / rel)
        model, name, url = str(TUNED_DIR), folder.name, ""
    else:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", hub_id or ""):
            raise UserError(f"--tuned-model {hub_id!r}: expected ORG/NAME (a model id on the Hub)")
        model, name, url = hub_id, hub_id, f"https://huggingface.co/{hub_id}"
    config_path = dest / "config.yaml"
    data = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    base = dict((data.get("left") or {}).get("backend") or {})
    data["right"] = {
        "title": f"FalseReject-tuned: {name}",
        "description": "The base model after fine-tuning on FalseReject-style answers.",
        "model_url": url,
        "short": "Tuned",
        "backend": {"provider": "transformers", "model": model, "generation": base.get("generation") or {}},
    }
    config_path.write_text(
        "# staged by spaces/deploy.py: the right column runs the tuned model\n"
        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    load_space_config(config_path)  # the staged config must still load
    if hub_id:
        _add_readme_model(dest / "README.md", hub_id)
    return files


def _add_readme_model(readme: Path, hub_id: str) -> None:
    """List ``hub_id`` under ``models:`` in the README's front matter."""
    text = readme.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n", text, flags=re.S)
    if not match:
        return
    meta = yaml.safe_load(match.group(1)) or {}
    models = list(meta.get("models") or [])
    if hub_id not in models:
        meta["models"] = [*models, hub_id]
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    readme.write_text(f"---\n{front}---\n{text[match.end() :]}", encoding="utf-8")


def cache_note(staged: Path, tuned: str | None = None) -> str:
    """Whether the staged Space's cached examples cover both of its columns; if not, the
    command that adds the missing answers (``tuned``: the tuned model's id or folder)."""
    from falsereject.space.cached import CachedAnswers, cache_path, column_key
    from falsereject.space.columns import resolve_column
    from falsereject.space.config import load_space_config

    config = load_space_config(staged / "config.yaml")
    path = cache_path(config, staged)
    cached = CachedAnswers.load(path) if path else CachedAnswers()
    keys = {key for _, key in cached.answers}
    missing = []
    for side, column in (("left", config.left), ("right", config.right)):
        if column_key(resolve_column(column, [staged])) not in keys:
            missing.append(side)
    if not missing:
        return f"cached examples: {len(cached)} precomputed answers cover both columns"
    fix = "run `python spaces/cache_examples.py`"
    if tuned and missing == ["right"]:
        fix += (
            f" --set right.backend.model={tuned} --set right.backend.provider=transformers"
            " --set right.fallback=null"
        )
    return (
        f"note: the cached examples have no answers from the model of the {' and '.join(missing)} "
        f"column{'s' if len(missing) > 1 else ''}, so the page says so for each example; to add them, "
        f"{fix}, then deploy again"
    )


def deploy(
    repo_id: str,
    *,
    folder: Path = SPACE_DIR,
    dry_run: bool = False,
    private: bool = False,
    token_env: str = "HF_TOKEN",
    version: str | None = None,
    tuned_model: str | None = None,
    tuned_folder: Path | None = None,
) -> list[Path]:
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id):
        raise UserError(f"--repo-id {repo_id!r}: expected ORG/NAME (the Space's id on the Hub)")
    version = version or package_version()
    with tempfile.TemporaryDirectory(prefix="falsereject-space-") as tmp:
        files = stage(Path(folder), version, Path(tmp), tuned_model=tuned_model, tuned_folder=tuned_folder)
        print(cache_note(Path(tmp), tuned_model or (str(tuned_folder) if tuned_folder else None)))
        if dry_run:
            print(f"[dry run] would upload {len(files)} file(s) to the space repo {repo_id} (sdk gradio):")
            for rel in files:
                print(f"  {rel}  ({(Path(tmp) / rel).stat().st_size:,} bytes)")
            print(f"requirements pin: falsereject[{EXTRAS}]=={version}")
            return files
        token = os.environ.get(token_env)
        if not token:
            raise UserError(f"set {token_env} to a Hugging Face write token (or pass --token-env NAME)")
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True, private=private)
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=tmp,
            repo_type="space",
            commit_message=f"Deploy the FalseReject demo (falsereject {version})",
        )
        print(f"uploaded {len(files)} file(s) to {repo_id}: {getattr(info, 'commit_url', '')}")
        return files


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Push the FalseReject Space to the Hugging Face Hub.")
    parser.add_argument("--repo-id", required=True, help="the Space's id, ORG/NAME")
    parser.add_argument("--folder", type=Path, default=SPACE_DIR, help=f"Space folder (default {SPACE_DIR})")
    parser.add_argument("--dry-run", action="store_true", help="print what would be uploaded, upload nothing")
    parser.add_argument("--private", action="store_true", help="create the Space as private")
    parser.add_argument("--token-env", default="HF_TOKEN", help="env var holding the write token")
    parser.add_argument("--version", default=None, help="package version to pin (default: installed)")
    parser.add_argument(
        "--tuned-model", default=None, help="right column: a FalseReject-tuned model on the Hub"
    )
    parser.add_argument(
        "--tuned-folder",
        type=Path,
        default=None,
        help="right column: a local tuned model or LoRA folder to ship",
    )
    args = parser.parse_args(argv)
    try:
        deploy(
            args.repo_id,
            folder=args.folder,
            dry_run=args.dry_run,
            private=args.private,
            token_env=args.token_env,
            version=args.version,
            tuned_model=args.tuned_model,
            tuned_folder=args.tuned_folder,
        )
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
