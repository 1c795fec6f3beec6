"""A random but reproducible registry written through the pre-OCI model, for backfill proofs.

:func:`write_random_registry` pushes signed schema 1 images (layers drawn from a shared
pool, so repositories and images share blobs and V1 images), and then moves, restores,
deletes, hides and expires tags, adds and deletes labels, all through the interface, as
a registry's users would, with the clock moved between steps (sometimes not at all, so
tags also move within one second). The same seed writes the same registry.
"""
import random
from datetime import UTC, datetime
from typing import Callable, NamedTuple

from registry_model.testing.pre_oci_builder import PreOCIImageBuilder

Tick = Callable[[int], None]


class RandomRegistry(NamedTuple):
    """What was written: repositories (RepositoryReference), and per repository full name
    every tag name and manifest digest it ever had."""

    repositories: list
    tag_names: dict
    digests: dict


def _layers(rng: random.Random, pool: list) -> list:
    count = rng.randint(1, 4)
    return [pool[rng.randrange(len(pool))] for _ in range(count)]


def write_random_registry(model, seed: int, tick: Tick, repositories: int = 3,
                          steps: int = 40, store=None) -> RandomRegistry:
    """Write a random registry through ``model`` (a PreOCIModel); ``tick(seconds)`` moves
    the registry's clock. ``steps`` random operations per repository."""
    written = RandomRegistry([], {}, {})
    for number in range(repositories):
        written.repositories.append(model.create_repository(
            "ns%d" % (number % 2), "repo%d" % number, create_namespace=True))
    return change_random_registry(model, written, seed, tick, steps, store)


def change_random_registry(model, written: RandomRegistry, seed: int, tick: Tick,
                           steps: int = 40, store=None) -> RandomRegistry:
    """Go on changing the repositories of ``written`` through ``model``: ``steps`` random
    operations per repository; ``written``'s names and digests grow with what it does."""
    rng = random.Random(seed)
    builder = PreOCIImageBuilder(model, store)
    pool = [b"shared layer %d" % number for number in range(6)]
    for repo in written.repositories:
        names = written.tag_names.setdefault(repo.full_name, [])
        digests = written.digests.setdefault(repo.full_name, [])
        for step in range(steps):
            tick(rng.choice((0, 0, 1, 7, 60, 3600)))
            _step(model, builder, rng, repo, names, digests, pool, "%d-%d" % (seed, step))
    return written


def _push(builder, rng, repo, names, digests, pool, step) -> None:
    name = rng.choice(names) if names and rng.random() < 0.5 else "tag%s" % step
    labels = None
    if rng.random() < 0.4:
        labels = {"com.example.step": str(step), "com.example.color":
                  rng.choice(("red", "blue"))}
        if rng.random() < 0.2:
            labels["quay.expires-after"] = rng.choice(("1h", "2d"))
    config = {"created": "2024-0%d-0%dT00:00:00Z" % (rng.randint(1, 9), rng.randint(1, 9)),
              "command": ["/bin/sh", "-c", "step %s" % step]}
    pushed = builder.push_image(repo, name, _layers(rng, pool), labels=labels, config=config)
    if name not in names:
        names.append(name)
    if pushed.manifest.digest not in digests:
        digests.append(pushed.manifest.digest)


def _any_tag(model, rng, repo, names):
    if not names:
        return None
    return model.find_matching_tag(repo, [rng.choice(names)])


def _step(model, builder, rng, repo, names, digests, pool, step) -> None:
    choice = rng.random()
    tag = _any_tag(model, rng, repo, names)
    if choice < 0.4 or tag is None:
        _push(builder, rng, repo, names, digests, pool, step)
    elif choice < 0.55:  # move or restore a tag to a manifest it or another had
        digest = rng.choice(digests)
        manifest = model.lookup_manifest_by_digest(repo, digest, allow_dead=True)
        if manifest is not None:
            name = rng.choice(names)
            model.retarget_tag(repo, name, manifest, is_reversion=rng.random() < 0.5)
    elif choice < 0.65:
        model.delete_tag(repo, tag.name)
    elif choice < 0.75:  # expire: in the past (dead) or in the future (alive until then)
        offset = rng.choice((-30, 5, 86400))
        end = max(tag.lifetime_start_ts + 1, tag.lifetime_start_ts + offset)
        model.change_repository_tag_expiration(tag, datetime.fromtimestamp(end, UTC))
    elif choice < 0.85:
        manifest = model.get_manifest_for_tag(tag)
        if manifest is not None:
            model.create_manifest_label(manifest, "api.step%d" % rng.randrange(3),
                                        rng.choice(("x", '{"a": 1}')), "api")
    elif choice < 0.9:
        manifest = model.get_manifest_for_tag(tag)
        labels = [label for label in model.list_manifest_labels(manifest)
                  if label.source_type_name == "api"] if manifest is not None else []
        if labels:
            model.delete_manifest_label(manifest, rng.choice(labels).uuid)
    elif choice < 0.95:
        builder.hide_tag(tag)
    else:
        _push(builder, rng, repo, names, digests, pool, step)
