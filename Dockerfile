# syntax=docker/dockerfile:1
# zt in a minimal image.
#
#   docker build -t zt:0.1.0 .                  # default: the compiled binary on distroless/cc
#   docker build --target bundle -t zt:bundle .  # alternative: deno + dist/zt.js (the offline bundle)
#
# The build stage needs the network: `deno install` fetches the npm packages pinned in deno.lock, and
# `deno compile` downloads denort (the runtime it embeds zt into) from dl.deno.land. Both images run
# with the permissions in permissions.txt, which compile.sh bakes into the binary and the bundle
# image's entrypoint reads; there is no -A anywhere.
#
# Working directory "/" on purpose: ztunnel's default paths ./var/run/secrets/tokens/istio-token and
# ./var/run/secrets/istio/root-cert.pem then name the files Istio's chart mounts.
# (Not built in this repository's CI: the CI machines have no container engine.)

ARG DENO_VERSION=2.9.6

FROM denoland/deno:debian-${DENO_VERSION} AS build
WORKDIR /src
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY permissions.txt compile.sh main.ts ./
COPY lib ./lib
COPY proto ./proto
# Builds dist/zt.js and, with the network, dist/zt; fails the build if the binary was not produced.
RUN ./compile.sh && test -x dist/zt && ./dist/zt version

# --- alternative target: the bundle, run by deno from an empty DENO_DIR with --cached-only ---
FROM denoland/deno:debian-${DENO_VERSION} AS bundle
COPY --from=build /src/dist/zt.js /app/zt.js
COPY --from=build /src/permissions.txt /app/permissions.txt
# DENO_DIR on /tmp: the DaemonSet's root filesystem is read-only and /tmp is an emptyDir.
ENV DENO_DIR=/tmp/deno-dir NO_COLOR=1 DENO_NO_UPDATE_CHECK=1
WORKDIR /
EXPOSE 15008 15020 15021 15080
ENTRYPOINT ["/bin/sh", "-c", "exec deno run --cached-only --no-prompt $(sed 's/#.*//' /app/permissions.txt) /app/zt.js \"$@\"", "zt"]
CMD ["run"]

# --- default target: the single binary ---
# distroless/cc carries glibc and libgcc, which the deno runtime links against, and libc.so.6 at the
# path permissions.txt allows for FFI (/lib/x86_64-linux-gnu/libc.so.6).
FROM gcr.io/distroless/cc-debian12 AS binary
COPY --from=build /src/dist/zt /usr/local/bin/zt
ENV NO_COLOR=1
WORKDIR /
EXPOSE 15008 15020 15021 15080
ENTRYPOINT ["/usr/local/bin/zt"]
CMD ["run"]
