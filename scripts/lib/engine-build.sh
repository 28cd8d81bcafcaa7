# engine_build CONTEXT_DIR TAG: builds an image through the Docker Engine API (no docker CLI
# needed), from CONTEXT_DIR/Dockerfile. Prints the engine's last output and fails when the build
# did not tag the image. The whole stream is read before it is searched: `grep -q` on a pipe
# may exit early and fail curl with SIGPIPE under pipefail.
engine_build() {
  local ctx=$1 tag=$2 out
  tar -C "$ctx" -cf "$ctx.tar" .
  out=$(curl -sS --unix-socket /var/run/docker.sock -X POST -H 'Content-Type: application/x-tar' \
    --data-binary @"$ctx.tar" \
    "http://localhost/v1.41/build?t=$(printf %s "$tag" | sed 's|/|%2F|g; s|:|%3A|g')&rm=1" 2>&1) || true
  rm -f "$ctx.tar"
  grep -q "Successfully tagged" <<<"$out" && return 0
  echo "build of $tag failed: $(tail -c 2000 <<<"$out")" >&2
  return 1
}
