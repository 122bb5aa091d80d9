"""A/B experiments on the feed (moderator): create, start, stop, read, results."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from killrvideo_reco.api.deps import CurrentSettings, Moderator, Resources, within_deadline
from killrvideo_reco.api.openapi import AUTHENTICATED, problems
from killrvideo_reco.api.problems import Problem
from killrvideo_reco.api.routes import API_PREFIX
from killrvideo_reco.api.schemas_online import ExperimentIn, ExperimentOut, ExperimentResultsOut
from killrvideo_reco.domain.experiments import InvalidExperiment
from killrvideo_reco.service.experiments import ExperimentConflict, UnknownExperiment

PREFIX = f"{API_PREFIX}/admin/experiments"
router = APIRouter(prefix=PREFIX, tags=["admin"])
ExperimentId = Annotated[uuid.UUID, Path(alias="experimentId")]


def _not_found(error: UnknownExperiment) -> Problem:
    return Problem(404, str(error))


@router.post("", response_model=ExperimentOut, response_model_by_alias=True,
             status_code=status.HTTP_201_CREATED,
             summary="Create an experiment (a draft) on the feed's settings (moderator)",
             responses=problems(*AUTHENTICATED, 400, 422))
async def create(body: ExperimentIn, response: Response, moderator: Moderator,
                 resources: Resources, settings: CurrentSettings) -> ExperimentOut:
    try:
        found = await within_deadline(resources.experiments.create(
            body.name, [v.variant() for v in body.variants]), settings)
    except InvalidExperiment as error:
        raise Problem(422, str(error), title="Invalid experiment",
                      errors=[{"field": f"body.{error.field}", "message": error.message}]
                      ) from error
    response.headers["Location"] = f"{PREFIX}/{found.experiment_id}"
    return ExperimentOut.of(found)


@router.get("", response_model=list[ExperimentOut], response_model_by_alias=True,
            summary="Every experiment (moderator)", responses=problems(*AUTHENTICATED))
async def list_all(moderator: Moderator, resources: Resources,
                   settings: CurrentSettings) -> list[ExperimentOut]:
    return [ExperimentOut.of(e) for e in
            await within_deadline(resources.experiments.list(), settings)]


@router.get("/{experimentId}", response_model=ExperimentOut, response_model_by_alias=True,
            summary="One experiment (moderator)", responses=problems(*AUTHENTICATED, 404, 422))
async def read(experiment_id: ExperimentId, moderator: Moderator, resources: Resources,
               settings: CurrentSettings) -> ExperimentOut:
    try:
        return ExperimentOut.of(await within_deadline(
            resources.experiments.get(experiment_id), settings))
    except UnknownExperiment as error:
        raise _not_found(error) from error


async def _change(action, experiment_id: uuid.UUID, settings) -> ExperimentOut:
    try:
        return ExperimentOut.of(await within_deadline(action(experiment_id), settings))
    except UnknownExperiment as error:
        raise _not_found(error) from error
    except ExperimentConflict as error:
        raise Problem(409, str(error), errors=[{"field": error.field, "message": str(error)}]
                      ) from error


@router.post("/{experimentId}/start", response_model=ExperimentOut,
             response_model_by_alias=True,
             summary="Start a draft: its variants are served from now on (moderator)",
             responses=problems(*AUTHENTICATED, 404, 409, 422))
async def start(experiment_id: ExperimentId, moderator: Moderator, resources: Resources,
                settings: CurrentSettings) -> ExperimentOut:
    return await _change(resources.experiments.start, experiment_id, settings)


@router.post("/{experimentId}/stop", response_model=ExperimentOut,
             response_model_by_alias=True,
             summary="Stop a running experiment: everyone gets the default feed (moderator)",
             responses=problems(*AUTHENTICATED, 404, 409, 422))
async def stop(experiment_id: ExperimentId, moderator: Moderator, resources: Resources,
               settings: CurrentSettings) -> ExperimentOut:
    return await _change(resources.experiments.stop, experiment_id, settings)


@router.get("/{experimentId}/results", response_model=ExperimentResultsOut,
            response_model_by_alias=True,
            summary="Per-variant metrics, difference from control with 95% CI, SRM check, "
                    "guardrails (moderator)",
            responses=problems(*AUTHENTICATED, 404, 422))
async def results(experiment_id: ExperimentId, moderator: Moderator, resources: Resources,
                  settings: CurrentSettings) -> ExperimentResultsOut:
    try:
        experiment = await within_deadline(resources.experiments.get(experiment_id), settings)
        found = await within_deadline(resources.experiments.results(experiment_id), settings)
    except UnknownExperiment as error:
        raise _not_found(error) from error
    return ExperimentResultsOut.of(experiment, found)
