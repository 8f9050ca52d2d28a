#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
