# One image for every service of every architecture; each docker-compose.*.yml sets the command.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    ARCHBENCH_HOST=0.0.0.0

WORKDIR /app

# The locked dependencies get their own layer, so that a source change does not reinstall them.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY . .
# Editable, so that the package root (and with it models/demo) is /app, as in a checkout.
RUN pip install --no-deps --no-build-isolation -e . \
    && archbench train \
    && python -m compileall -q pipeline serving monolith microservices

# The services only read /app, so it stays owned by root.
RUN useradd --create-home --uid 10001 archbench
USER archbench
