"""The metrics that travel with the FID in `python -m fid --json`: the
Inception Score, the KID, precision and recall, and the sFID, each null
with the reason where its inputs do not allow it."""

from __future__ import annotations

from fid import architecture
from fid import core
from fid import frechet
from fid import metrics


def companions(
  a: core.Activations,
  b: core.Activations,
  results,
  method: str,
  kind: architecture.ExtractorKind,
) -> dict:
  """IS, KID, precision/recall and sFID: what --json adds to the FID. Each
  value that cannot be computed is null, and "why_null" says why; the
  Inception Score and the sFID only where the extractor provides
  Inception's logits and spatial features (fid.architecture). PATH1 is
  the reference (real) set and PATH2 the generated one, as in OpenAI's
  evaluator: precision = generated inside the real manifold."""
  why: dict = {}
  out: dict = {"is_fid": kind.is_fid}
  out["inception_score"] = _inception_scores(results, kind, why)
  out.update(_per_image(a, b, why))
  out["sfid"] = _sfid(a, b, method, kind, why)
  if why:
    out["why_null"] = why
  return out


def _inception_scores(results, kind, why: dict) -> list:
  """Each input's Inception Score as {mean, std}, or None (its reason in
  why["inception_score"], the inputs' reasons joined)."""
  scores, reasons = [], []
  for i, r in enumerate(results, start=1):
    if not kind.logits:
      reasons = [f"the {kind.name} extractor has no Inception logits"]
    elif r.logits is None:
      reasons.append(f"PATH{i} is statistics: no logits")
    elif len(r.logits) < 10:
      reasons.append(
        f"PATH{i} has {len(r.logits)} images; the score's 10 splits need "
        "at least 10"
      )
    else:
      scores.append(
        dict(zip(("mean", "std"), metrics.inception_score(r.logits)))
      )
      continue
    scores.append(None)
  if reasons:
    why["inception_score"] = "; ".join(reasons)
  return scores


def _per_image(a, b, why: dict) -> dict:
  """The KID and precision/recall, which need every image's features."""
  if a.features is None or b.features is None:
    why["kid"] = why["precision"] = why["recall"] = (
      "an input is statistics: no per-image features"
    )
    return {"kid": None, "precision": None, "recall": None}
  kid = metrics.kernel_inception_distance(a.features, b.features)
  out = {"kid": dict(zip(("mean", "std"), kid))}
  smaller = min(len(a.features), len(b.features))
  if smaller <= metrics.PR_NEIGHBOURS:
    why["precision"] = why["recall"] = (
      f"{smaller} images in the smaller set; k = {metrics.PR_NEIGHBOURS} "
      f"neighbours need at least {metrics.PR_NEIGHBOURS + 1}"
    )
    return {**out, "precision": None, "recall": None}
  precision, recall = metrics.precision_recall(a.features, b.features)
  return {**out, "precision": precision, "recall": recall}


def _sfid(a, b, method: str, kind, why: dict) -> float | None:
  if a.spatial_mu is not None and b.spatial_mu is not None:
    return frechet.calculate_frechet_distance(
      a.spatial_mu,
      a.spatial_sigma,
      b.spatial_mu,
      b.spatial_sigma,
      method=method,
    )
  why["sfid"] = (
    f"the {kind.name} extractor has no Inception spatial features"
    if not kind.spatial
    else "an input is a statistics file without spatial_mu and "
    "spatial_sigma (TTUR's files have none)"
  )
  return None
