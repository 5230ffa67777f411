FROM node:20-bookworm-slim AS console
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends stress-ng iptables iproute2 procps \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
COPY --from=console /src/chaoshub/static /app/chaoshub/static
RUN pip install --no-cache-dir ".[all]"
USER root
EXPOSE 8080
CMD ["chaoshub", "api", "--host", "0.0.0.0"]
