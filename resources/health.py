"""Operational endpoints at the root: liveness (`/health`) and readiness (`/ready`)."""

from __future__ import annotations

import logging

import pymongo.errors
import redis.exceptions
from flask import Blueprint, jsonify

from core.version import __version__
from db import ping as ping_mongo
from errors import error_response
from extensions import get_redis, limiter

log = logging.getLogger(__name__)

ops = Blueprint("ops", __name__)
# Probes must answer even when a client is over its limit, and /health must not touch Redis.
limiter.exempt(ops)


@ops.get("/health")
def health():
    """Up while the process is; touches neither MongoDB nor Redis. Reports the running release,
    so a rolling deploy can be followed from outside.
    ---
    get:
      summary: Liveness probe
      tags: [operations]
      responses:
        200:
          description: The process is up
          content:
            application/json:
              schema:
                type: object
                required: [status, version]
                properties:
                  status: {type: string, enum: [ok]}
                  version: {type: string, example: 1.1.0}
    """
    return jsonify({"status": "ok", "version": __version__})


@ops.get("/ready")
def ready():
    """Ready when MongoDB and Redis both answer; otherwise 503 naming what is down.
    ---
    get:
      summary: Readiness probe
      description: 503 names what is down in `details.unavailable` (`mongodb`, `redis`).
      tags: [operations]
      responses:
        200:
          description: MongoDB and Redis both answer
          content:
            application/json:
              schema:
                type: object
                required: [status, mongodb, redis]
                properties:
                  status: {type: string, enum: [ready]}
                  mongodb: {type: string, enum: [ok]}
                  redis: {type: string, enum: [ok]}
        503: {$ref: '#/components/responses/ServiceUnavailable'}
    """
    down = []
    try:
        ping_mongo()
    except pymongo.errors.PyMongoError as exc:
        log.warning("readiness: mongodb down (%s)", type(exc).__name__)
        down.append("mongodb")
    try:
        get_redis().ping()
    except redis.exceptions.RedisError as exc:
        log.warning("readiness: redis down (%s)", type(exc).__name__)
        down.append("redis")
    if down:
        return error_response(
            503,
            "service_unavailable",
            f"Not ready: {', '.join(down)} unavailable.",
            {"unavailable": down},
            {"Retry-After": "5"},
        )
    return jsonify({"status": "ready", "mongodb": "ok", "redis": "ok"})
