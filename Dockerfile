# arbor in a container: a static binary on a distroless base, as a user
# without privileges, its data in the volume /data.
#
#   docker build -t arbor --build-arg VERSION=$(git describe --always) .
#   arbor keys add --file keys.jsonl --name me --scope admin   # prints the key
#   docker run -p 8000:8000 -v arbor-data:/data -v $PWD/keys.jsonl:/etc/arbor/keys.jsonl:ro arbor
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/arbor ./cmd/arbor \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/arbor /arbor
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME /data
EXPOSE 8000 4222
# Listening beyond loopback, arbor wants API keys: mount a keys file here
# (or set ARBOR_INSECURE=true to serve without, on a network you trust).
ENV ARBOR_ADDR=:8000 \
    ARBOR_DATA_DIR=/data \
    ARBOR_NATS_LISTEN=:4222 \
    ARBOR_API_KEYS_FILE=/etc/arbor/keys.jsonl
USER nonroot
ENTRYPOINT ["/arbor", "serve"]
