/*
 * CLibCrypto: the parts of OpenSSL's libcrypto (Debian's libssl-dev, found with pkg-config
 * as `libcrypto`) that the SPAKE2Plus target uses: P-256 point arithmetic (EC_GROUP,
 * EC_POINT, BIGNUM). Nothing else of OpenSSL is used; everything else is swift-crypto.
 */
#ifndef SPAAK_CLIBCRYPTO_SHIM_H
#define SPAAK_CLIBCRYPTO_SHIM_H

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

/* Typed constants: NID and BN flag macros import as plain Int32 / Int. */
static const int spaak_nid_p256 = NID_X9_62_prime256v1;
static const int spaak_bn_flg_consttime = BN_FLG_CONSTTIME;

#endif
