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
  Inception's logits and spatial features (fid.architecture)."""
  why: dict = {}
  out: dict = {"is_fid": kind.is_fid}
  scores = []
  for i, r in enumerate(results, start=1):
    if not kind.logits:
      scores.append(None)
      why["inception_score"] = [
        f"the {kind.name} extractor has no Inception logits"
      ]
    elif r.logits is None:
      scores.append(None)
      why.setdefault("inception_score", []).append(
        f"PATH{i} is statistics: no logits"
      )
    elif len(r.logits) < 10:
      scores.append(None)
      why.setdefault("inception_score", []).append(
        f"PATH{i} has {len(r.logits)} images; the score's 10 splits need "
        "at least 10"
      )
    else:
      scores.append(
        dict(zip(("mean", "std"), metrics.inception_score(r.logits)))
      )
  out["inception_score"] = scores
  if "inception_score" in why:
    why["inception_score"] = "; ".join(why["inception_score"])
  both = a.features is not None and b.features is not None
  out["kid"] = (
    dict(
      zip(
        ("mean", "std"),
        metrics.kernel_inception_distance(a.features, b.features),
      )
    )
    if both
    else None
  )
  if not both:
    why["kid"] = why["precision"] = why["recall"] = (
      "an input is statistics: no per-image features"
    )
  # PATH1 is the reference (real) set and PATH2 the generated one, as in
  # OpenAI's evaluator: precision = generated inside the real manifold.
  enough = (
    both and min(len(a.features), len(b.features)) > metrics.PR_NEIGHBOURS
  )
  if both and not enough:
    why["precision"] = why["recall"] = (
      f"{min(len(a.features), len(b.features))} images in the smaller "
      f"set; k = {metrics.PR_NEIGHBOURS} neighbours need at least "
      f"{metrics.PR_NEIGHBOURS + 1}"
    )
  pr = metrics.precision_recall(a.features, b.features) if enough else None
  out["precision"], out["recall"] = pr if pr else (None, None)
  spatial = a.spatial_mu is not None and b.spatial_mu is not None
  out["sfid"] = (
    frechet.calculate_frechet_distance(
      a.spatial_mu,
      a.spatial_sigma,
      b.spatial_mu,
      b.spatial_sigma,
      method=method,
    )
    if spatial
    else None
  )
  if not spatial:
    why["sfid"] = (
      f"the {kind.name} extractor has no Inception spatial features"
      if not kind.spatial
      else "an input is a statistics file without spatial_mu and "
      "spatial_sigma (TTUR's files have none)"
    )
  if why:
    out["why_null"] = why
  return out
