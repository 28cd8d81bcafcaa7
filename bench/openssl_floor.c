/* The PSS floor for keyd's figures: a bare process that does the same OpenSSL work keyd does in
 * the benchmark (HMAC-SHA256 and ECDSA P-256 signs with keys it made) and nothing else. It
 * says "ready" on stderr and waits for SIGTERM, so its PSS is read while keyd runs, in the same run. */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  unsigned char key[32], msg[64] = {0}, md[32], digest[32], sig[80];
  unsigned int md_len = 0;
  if (RAND_bytes(key, sizeof key) != 1) return 1;
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  if (!ec) return 1;
  for (int i = 0; i < 1000; ++i) {
    if (!HMAC(EVP_sha256(), key, sizeof key, msg, sizeof msg, md, &md_len)) return 1;
    if (!EVP_Digest(msg, sizeof msg, digest, NULL, EVP_sha256(), NULL)) return 1;
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(ec, NULL);
    size_t sig_len = sizeof sig;
    if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 || EVP_PKEY_sign(ctx, sig, &sig_len, digest, sizeof digest) <= 0)
      return 1;
    EVP_PKEY_CTX_free(ctx);
  }
  fputs("ready\n", stderr); /* bench::spawn logs stderr */
  for (;;) pause();
}
