# engine_build CONTEXT_DIR TAG: builds an image through the Docker Engine API (no docker CLI
# needed), from CONTEXT_DIR/Dockerfile. Prints the engine's last output and fails when the build
# did not tag the image. The whole stream is read before it is searched: `grep -q` on a pipe
# may exit early and fail curl with SIGPIPE under pipefail. A failed build is tried once more:
# the engine's classic builder can lose a layer to another build committing the same one at
# the same moment (tests build agent images in parallel); the first failure is still printed.
engine_build() {
  local ctx=$1 tag=$2 out attempt
  tar -C "$ctx" -cf "$ctx.tar" .
  for attempt in 1 2; do
    out=$(curl -sS --unix-socket /var/run/docker.sock -X POST -H 'Content-Type: application/x-tar' \
      --data-binary @"$ctx.tar" \
      "http://localhost/v1.41/build?t=$(printf %s "$tag" | sed 's|/|%2F|g; s|:|%3A|g')&rm=1" 2>&1) || true
    if grep -q "Successfully tagged" <<<"$out"; then
      rm -f "$ctx.tar"
      return 0
    fi
    echo "build of $tag failed (attempt $attempt): $(tail -c 2000 <<<"$out")" >&2
  done
  rm -f "$ctx.tar"
  return 1
}
