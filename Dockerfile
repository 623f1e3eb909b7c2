# One image for every service of every architecture; each docker-compose.*.yml sets the command.
# Built offline: `make image` first makes build/wheelhouse on the host (every runtime dependency
# of the lock as a wheel, with its hash-locked copy of the lock), and this build installs from it
# alone, so it needs no network. BASE: any Debian-like image with python3.11 and venv
# (`make base-image` builds one from debootstrap for hosts that reach no registry).
ARG BASE=python:3.11-slim
FROM ${BASE} AS deps
COPY build/wheelhouse /wheelhouse
# --no-index: nothing but the wheelhouse; --require-hashes: nothing but what the lock pins.
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install -q --disable-pip-version-check --no-cache-dir --no-index \
       --find-links /wheelhouse --require-hashes -r /wheelhouse/requirements.lock

FROM ${BASE}
ARG BASE
# Which base this image was built on, for the tests that rebuild a stage of it.
LABEL org.archbench.base=${BASE}
ENV PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    ARCHBENCH_HOST=0.0.0.0
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
# Package by package: the build context also holds the wheelhouse, which stays out of this stage.
COPY pipeline pipeline
COPY serving serving
COPY monolith monolith
COPY microservices microservices
COPY stack stack
COPY bench bench
COPY archbench archbench
COPY pyproject.toml ./
# The source is used in place (PYTHONPATH), so the package root, and with it models/demo, is
# /app as in a checkout. The demo model is trained here: deterministic, from a packaged dataset.
RUN python -m archbench train \
    && python -m compileall -q pipeline serving monolith microservices stack bench archbench

# The services only read /app, so it stays owned by root.
RUN useradd --create-home --uid 10001 archbench
USER archbench
