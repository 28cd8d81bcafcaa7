// All PKCS#11 calls live in this file: pkcs11.h defines macros with common names, so it is
// included last and nowhere else.
#include "keyd/pkcs11.h"

#include <dlfcn.h>

#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "common/fs.h"
#include "common/uri.h"

#include <p11-kit/pkcs11.h>

namespace keyd {
using edge::ErrorKind;
using edge::fail;
using edge::internal;
using edge::invalid;

namespace {

std::string rv_text(CK_RV rv) {
  switch (rv) {
    case CKR_OK: return "CKR_OK";
    case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
    case CKR_PIN_LEN_RANGE: return "CKR_PIN_LEN_RANGE";
    case CKR_SLOT_ID_INVALID: return "CKR_SLOT_ID_INVALID";
    case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
    case CKR_TOKEN_NOT_RECOGNIZED: return "CKR_TOKEN_NOT_RECOGNIZED";
    case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
    case CKR_MECHANISM_PARAM_INVALID: return "CKR_MECHANISM_PARAM_INVALID";
    case CKR_FUNCTION_NOT_SUPPORTED: return "CKR_FUNCTION_NOT_SUPPORTED";
    case CKR_KEY_TYPE_INCONSISTENT: return "CKR_KEY_TYPE_INCONSISTENT";
    case CKR_KEY_FUNCTION_NOT_PERMITTED: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
    case CKR_DATA_LEN_RANGE: return "CKR_DATA_LEN_RANGE";
    case CKR_DATA_INVALID: return "CKR_DATA_INVALID";
    case CKR_ENCRYPTED_DATA_INVALID: return "CKR_ENCRYPTED_DATA_INVALID";
    case CKR_ENCRYPTED_DATA_LEN_RANGE: return "CKR_ENCRYPTED_DATA_LEN_RANGE";
    case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
    case CKR_DEVICE_REMOVED: return "CKR_DEVICE_REMOVED";
    case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
    case CKR_ATTRIBUTE_VALUE_INVALID: return "CKR_ATTRIBUTE_VALUE_INVALID";
    case CKR_TEMPLATE_INCONSISTENT: return "CKR_TEMPLATE_INCONSISTENT";
    case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR 0x%lx", rv);
      return buf;
    }
  }
}

bool unsupported(CK_RV rv) {
  return rv == CKR_MECHANISM_INVALID || rv == CKR_FUNCTION_NOT_SUPPORTED ||
         rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_TEMPLATE_INCONSISTENT ||
         rv == CKR_KEY_TYPE_INCONSISTENT;
}

std::unexpected<edge::Error> p11_fail(const std::string& what, CK_RV rv) {
  return fail(unsupported(rv) ? ErrorKind::Unsupported : ErrorKind::Internal,
              "PKCS#11 " + what + " failed: " + rv_text(rv));
}

std::string trim_label(const unsigned char* label, size_t n) {
  std::string s(reinterpret_cast<const char*>(label), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}


// One loaded module; every call is serialized through one logged-in session per slot.
class Module {
 public:
  static Result<std::shared_ptr<Module>> load(const std::string& path) {
    void* dl = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!dl) return invalid("could not load PKCS#11 library " + path + ": " + ::dlerror());
    auto get = reinterpret_cast<CK_RV (*)(CK_FUNCTION_LIST_PTR_PTR)>(::dlsym(dl, "C_GetFunctionList"));
    CK_FUNCTION_LIST_PTR f = nullptr;
    if (!get || get(&f) != CKR_OK || !f)
      return invalid("PKCS#11 library " + path + " has no usable C_GetFunctionList");
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv = f->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) return p11_fail("C_Initialize", rv);
    auto m = std::make_shared<Module>();
    m->dl_ = dl;
    m->f_ = f;
    return m;
  }
  ~Module() {
    if (f_) f_->C_Finalize(nullptr);
    // The library is left loaded: some modules misbehave when unloaded at exit.
  }

  CK_FUNCTION_LIST_PTR f() const { return f_; }
  std::mutex& mutex() { return mutex_; }

  // Logged-in session for the URI's slot (caller holds mutex()).
  Result<CK_SESSION_HANDLE> session(const Pkcs11Uri& uri) {
    CK_SLOT_ID slot = EDGE_TRY(find_slot(uri));
    if (auto it = sessions_.find(slot); it != sessions_.end()) {
      // The token is already logged in for this process: a URI with another PIN must not
      // ride on that login.
      if (uri.pin && *uri.pin != it->second.pin.view())
        return fail(ErrorKind::InvalidParameter, "PKCS#11 PIN does not match the token's login");
      return it->second.session;
    }
    CK_SESSION_HANDLE s = 0;
    CK_RV rv = f_->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s);
    if (rv != CKR_OK) return p11_fail("C_OpenSession", rv);
    if (uri.pin) {
      rv = f_->C_Login(s, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(uri.pin->data())),
                       uri.pin->size());
      if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        f_->C_CloseSession(s);
        return p11_fail("C_Login", rv);
      }
    }
    sessions_[slot] = {s, edge::Secret(uri.pin.value_or(""))};
    return s;
  }
  void drop_sessions() {
    for (auto& [slot, s] : sessions_) f_->C_CloseSession(s.session);
    sessions_.clear();
  }

 private:
  Result<CK_SLOT_ID> find_slot(const Pkcs11Uri& uri) {
    if (uri.slot_id) return static_cast<CK_SLOT_ID>(*uri.slot_id);
    if (!uri.token) return invalid("pkcs11 URI names neither a token nor a slot-id");
    CK_ULONG n = 0;
    CK_RV rv = f_->C_GetSlotList(CK_TRUE, nullptr, &n);
    if (rv != CKR_OK) return p11_fail("C_GetSlotList", rv);
    std::vector<CK_SLOT_ID> slots(n);
    rv = f_->C_GetSlotList(CK_TRUE, slots.data(), &n);
    if (rv != CKR_OK) return p11_fail("C_GetSlotList", rv);
    for (CK_ULONG i = 0; i < n; ++i) {
      CK_TOKEN_INFO info{};
      if (f_->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
      if (trim_label(info.label, sizeof info.label) == *uri.token) return slots[i];
    }
    return fail(ErrorKind::Unavailable, "no PKCS#11 token labelled \"" + *uri.token + "\"");
  }

  void* dl_ = nullptr;
  CK_FUNCTION_LIST_PTR f_ = nullptr;
  std::mutex mutex_;
  struct Login {
    CK_SESSION_HANDLE session;
    edge::Secret pin;
  };
  std::map<CK_SLOT_ID, Login> sessions_;
};

// Runs `op` with a session for `uri`, retrying once on a fresh session if the old one died.
template <class F>
auto with_session(Module& m, const Pkcs11Uri& uri, F op) -> decltype(op(CK_SESSION_HANDLE{})) {
  std::lock_guard lock(m.mutex());
  for (int attempt = 0;; ++attempt) {
    auto s = m.session(uri);
    if (!s) return fail(s.error());
    auto r = op(*s);
    if (!r && attempt == 0 && r.error().message.find("SESSION_HANDLE_INVALID") != std::string::npos) {
      m.drop_sessions();
      continue;
    }
    return r;
  }
}

Result<CK_OBJECT_HANDLE> find_object(Module& m, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                                     const std::string& label) {
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof cls},
      {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
  };
  CK_RV rv = m.f()->C_FindObjectsInit(s, tmpl, 2);
  if (rv != CKR_OK) return p11_fail("C_FindObjectsInit", rv);
  CK_OBJECT_HANDLE h = 0;
  CK_ULONG found = 0;
  rv = m.f()->C_FindObjects(s, &h, 1, &found);
  m.f()->C_FindObjectsFinal(s);
  if (rv != CKR_OK) return p11_fail("C_FindObjects", rv);
  if (found == 0) return fail(ErrorKind::NotFound, "no PKCS#11 object labelled \"" + label + "\"");
  return h;
}

Result<std::string> get_attribute(Module& m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                                  CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = m.f()->C_GetAttributeValue(s, h, &a, 1);
  if (rv != CKR_OK) return p11_fail("C_GetAttributeValue", rv);
  std::string out(a.ulValueLen, '\0');
  a.pValue = out.data();
  rv = m.f()->C_GetAttributeValue(s, h, &a, 1);
  if (rv != CKR_OK) return p11_fail("C_GetAttributeValue", rv);
  return out;
}

Result<std::string> sign_with(Module& m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                              CK_MECHANISM mech, std::string_view data) {
  CK_RV rv = m.f()->C_SignInit(s, &mech, h);
  if (rv != CKR_OK) return p11_fail("C_SignInit", rv);
  CK_ULONG len = 0;
  auto* in = reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(data.data()));
  rv = m.f()->C_Sign(s, in, data.size(), nullptr, &len);
  if (rv != CKR_OK) return p11_fail("C_Sign", rv);
  std::string out(len, '\0');
  rv = m.f()->C_Sign(s, in, data.size(), reinterpret_cast<CK_BYTE_PTR>(out.data()), &len);
  if (rv != CKR_OK) return p11_fail("C_Sign", rv);
  out.resize(len);
  return out;
}

// CKA_EC_POINT of a P-256 key: a DER OCTET STRING (0x04 0x41) around the 65-byte uncompressed
// point, or (some tokens) the bare point.
std::string unwrap_ec_point(const std::string& point) {
  if (point.size() == 67 && point[0] == 0x04 && point[1] == 0x41) return point.substr(2);
  return point;
}

Result<crypto::PublicKey> public_key_from_object(Module& m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub) {
  auto type_bytes = EDGE_TRY(get_attribute(m, s, pub, CKA_KEY_TYPE));
  CK_KEY_TYPE type = 0;
  std::memcpy(&type, type_bytes.data(), std::min(type_bytes.size(), sizeof type));
  crypto::PublicKey key;
  if (type == CKK_EC) {
    auto params = EDGE_TRY(get_attribute(m, s, pub, CKA_EC_PARAMS));
    if (params != crypto::kP256CurveOid) return internal("unsupported EC curve in PKCS#11 key");
    key.type = crypto::PublicKey::Type::Ec;
    key.ec_curve_oid = params;
    key.ec_point = unwrap_ec_point(EDGE_TRY(get_attribute(m, s, pub, CKA_EC_POINT)));
  } else if (type == CKK_RSA) {
    key.type = crypto::PublicKey::Type::Rsa;
    key.rsa_modulus = crypto::strip_leading_zeros(EDGE_TRY(get_attribute(m, s, pub, CKA_MODULUS)));
    key.rsa_exponent = crypto::strip_leading_zeros(EDGE_TRY(get_attribute(m, s, pub, CKA_PUBLIC_EXPONENT)));
  } else {
    return internal("unsupported PKCS#11 key type");
  }
  return key;
}

class Pkcs11KeyPair final : public KeyPair {
 public:
  Pkcs11KeyPair(std::shared_ptr<Module> m, Pkcs11Uri uri) : m_(std::move(m)), uri_(std::move(uri)) {}

  Result<crypto::PublicKey> public_key() override {
    return with_session(*m_, uri_, [&](CK_SESSION_HANDLE s) -> Result<crypto::PublicKey> {
      auto pub = EDGE_TRY(find_object(*m_, s, CKO_PUBLIC_KEY, *uri_.object));
      return public_key_from_object(*m_, s, pub);
    });
  }

  Result<std::string> sign_digest(std::string_view digest) override {
    if (digest.empty()) return invalid("parameter \"digest\" must not be empty");
    return with_session(*m_, uri_, [&](CK_SESSION_HANDLE s) -> Result<std::string> {
      auto priv = EDGE_TRY(find_object(*m_, s, CKO_PRIVATE_KEY, *uri_.object));
      if (EDGE_TRY(key_type(s, priv)) != CKK_EC)
        return invalid("parameter \"algorithm\" has an invalid value\ncaused by: ECDSA needs an EC key pair");
      auto raw = EDGE_TRY(sign_with(*m_, s, priv, CK_MECHANISM{CKM_ECDSA, nullptr, 0}, digest));
      return crypto::ecdsa_raw_to_der(raw);
    });
  }

  Result<std::string> private_encrypt(std::string_view data, RsaPadding padding) override {
    return with_session(*m_, uri_, [&](CK_SESSION_HANDLE s) -> Result<std::string> {
      auto priv = EDGE_TRY(find_object(*m_, s, CKO_PRIVATE_KEY, *uri_.object));
      if (EDGE_TRY(key_type(s, priv)) != CKK_RSA)
        return invalid("parameter \"algorithm\" has an invalid value\ncaused by: RSA encryption needs an RSA key pair");
      auto modulus = EDGE_TRY(get_attribute(*m_, s, priv, CKA_MODULUS));
      if (padding == RsaPadding::None && data.size() != modulus.size())
        return invalid("parameter \"plaintext\" must be exactly as long as the modulus for RSA-NO-PADDING");
      if (padding == RsaPadding::Pkcs1 && data.size() + 11 > modulus.size())
        return invalid("parameter \"plaintext\" is too long for the RSA key");
      CK_MECHANISM mech{padding == RsaPadding::Pkcs1 ? CKM_RSA_PKCS : CKM_RSA_X_509, nullptr, 0};
      return sign_with(*m_, s, priv, mech, data);
    });
  }

 private:
  Result<CK_KEY_TYPE> key_type(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h) {
    auto bytes = EDGE_TRY(get_attribute(*m_, s, h, CKA_KEY_TYPE));
    CK_KEY_TYPE t = 0;
    std::memcpy(&t, bytes.data(), std::min(bytes.size(), sizeof t));
    return t;
  }
  std::shared_ptr<Module> m_;
  Pkcs11Uri uri_;
};

class Pkcs11SymmetricKey final : public SymmetricKey {
 public:
  Pkcs11SymmetricKey(std::shared_ptr<Module> m, Pkcs11Uri uri) : m_(std::move(m)), uri_(std::move(uri)) {}

  Result<std::string> hmac_sha256(std::string_view data) override {
    return with_session(*m_, uri_, [&](CK_SESSION_HANDLE s) -> Result<std::string> {
      auto key = EDGE_TRY(find_object(*m_, s, CKO_SECRET_KEY, *uri_.object));
      return sign_with(*m_, s, key, CK_MECHANISM{CKM_SHA256_HMAC, nullptr, 0}, data);
    });
  }

  Result<std::string> encrypt(std::string_view iv, std::string_view aad, std::string_view plaintext) override {
    if (iv.empty()) return invalid("parameter \"iv\" must not be empty");
    return with_session(*m_, uri_, [&](CK_SESSION_HANDLE s) -> Result<std::string> {
      auto key = EDGE_TRY(find_object(*m_, s, CKO_SECRET_KEY, *uri_.object));
      CK_GCM_PARAMS gcm = gcm_params(iv, aad);
      CK_MECHANISM mech{CKM_AES_GCM, &gcm, sizeof gcm};
      CK_RV rv = m_->f()->C_EncryptInit(s, &mech, key);
      if (rv != CKR_OK) return p11_fail("C_EncryptInit", rv);
      CK_ULONG len = plaintext.size() + 16;
      std::string out(1 + len, '\0');
      out[0] = 0x02;
      rv = m_->f()->C_Encrypt(s, reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(plaintext.data())),
                              plaintext.size(), reinterpret_cast<CK_BYTE_PTR>(out.data()) + 1, &len);
      if (rv != CKR_OK) return p11_fail("C_Encrypt", rv);
      out.resize(1 + len);
      return out;
    });
  }

  Result<std::string> decrypt(std::string_view iv, std::string_view aad, std::string_view ciphertext) override {
    if (iv.empty()) return invalid("parameter \"iv\" must not be empty");
    if (ciphertext.size() < 17) return invalid("parameter \"ciphertext\" is too short");
    std::string body;  // PKCS#11 wants ct || tag
    if (ciphertext[0] == 0x02) body = ciphertext.substr(1);
    else if (ciphertext[0] == 0x01) body = std::string(ciphertext.substr(17)) + std::string(ciphertext.substr(1, 16));
    else return invalid("parameter \"ciphertext\" has an unknown format version");
    return with_session(*m_, uri_, [&](CK_SESSION_HANDLE s) -> Result<std::string> {
      auto key = EDGE_TRY(find_object(*m_, s, CKO_SECRET_KEY, *uri_.object));
      CK_GCM_PARAMS gcm = gcm_params(iv, aad);
      CK_MECHANISM mech{CKM_AES_GCM, &gcm, sizeof gcm};
      CK_RV rv = m_->f()->C_DecryptInit(s, &mech, key);
      if (rv != CKR_OK) return p11_fail("C_DecryptInit", rv);
      CK_ULONG len = body.size();
      std::string out(len, '\0');
      rv = m_->f()->C_Decrypt(s, reinterpret_cast<CK_BYTE_PTR>(body.data()), body.size(),
                              reinterpret_cast<CK_BYTE_PTR>(out.data()), &len);
      // SoftHSM reports a failed GCM tag check as CKR_GENERAL_ERROR.
      if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
          rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED)
        return invalid("could not decrypt: ciphertext, iv or aad do not match the key");
      if (rv != CKR_OK) return p11_fail("C_Decrypt", rv);
      out.resize(len);
      return out;
    });
  }

 private:
  static CK_GCM_PARAMS gcm_params(std::string_view iv, std::string_view aad) {
    CK_GCM_PARAMS p{};
    p.pIv = reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(iv.data()));
    p.ulIvLen = iv.size();
    p.ulIvBits = iv.size() * 8;
    p.pAAD = reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(aad.data()));
    p.ulAADLen = aad.size();
    p.ulTagBits = 128;
    return p;
  }
  std::shared_ptr<Module> m_;
  Pkcs11Uri uri_;
};

class Pkcs11Backend final : public Backend {
 public:
  explicit Pkcs11Backend(std::shared_ptr<Module> m) : m_(std::move(m)) {}

  Result<std::shared_ptr<KeyPair>> open_key_pair(const std::string& location) override {
    auto uri = EDGE_TRY(object_uri(location));
    EDGE_TRY_VOID(with_session(*m_, uri, [&](CK_SESSION_HANDLE s) -> Result<CK_OBJECT_HANDLE> {
      return find_object(*m_, s, CKO_PRIVATE_KEY, *uri.object);
    }));
    return std::shared_ptr<KeyPair>(new Pkcs11KeyPair(m_, uri));
  }

  Result<std::shared_ptr<KeyPair>> create_key_pair(const std::string& location,
                                                   const std::vector<KeyPairAlgorithm>& preferred) override {
    auto uri = EDGE_TRY(object_uri(location));
    edge::Error last{ErrorKind::Internal, "no algorithm"};
    for (auto algorithm : preferred) {
      auto r = with_session(*m_, uri, [&](CK_SESSION_HANDLE s) { return generate(s, *uri.object, algorithm); });
      if (r) return std::shared_ptr<KeyPair>(new Pkcs11KeyPair(m_, uri));
      last = r.error();
      if (last.kind != ErrorKind::Unsupported) break;  // PKCS#11 tries each preference in order
    }
    return fail(last);
  }

  Status delete_key_pair(const std::string& location) override {
    auto uri = EDGE_TRY(object_uri(location));
    return destroy(uri, {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY});
  }

  Status move_key_pair(const std::string& from, const std::string& to) override {
    auto src = EDGE_TRY(object_uri(from));
    auto dst = EDGE_TRY(object_uri(to));
    if (src.token != dst.token || src.slot_id != dst.slot_id)
      return invalid("cannot move a key pair between PKCS#11 tokens");
    EDGE_TRY_VOID(destroy(dst, {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY}));
    return with_session(*m_, src, [&](CK_SESSION_HANDLE s) -> Status {
      for (CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY}) {
        auto h = find_object(*m_, s, cls, *src.object);
        if (!h) {
          if (h.error().kind == ErrorKind::NotFound && cls == CKO_PUBLIC_KEY) continue;
          return fail(h.error());
        }
        CK_ATTRIBUTE label{CKA_LABEL, const_cast<char*>(dst.object->data()), dst.object->size()};
        CK_RV rv = m_->f()->C_SetAttributeValue(s, *h, &label, 1);
        if (rv != CKR_OK) return p11_fail("C_SetAttributeValue", rv);
      }
      return {};
    });
  }

  Result<std::shared_ptr<SymmetricKey>> open_key(const std::string& location) override {
    auto uri = EDGE_TRY(object_uri(location));
    EDGE_TRY_VOID(with_session(*m_, uri, [&](CK_SESSION_HANDLE s) -> Result<CK_OBJECT_HANDLE> {
      return find_object(*m_, s, CKO_SECRET_KEY, *uri.object);
    }));
    return std::shared_ptr<SymmetricKey>(new Pkcs11SymmetricKey(m_, uri));
  }

  Result<std::shared_ptr<SymmetricKey>> create_key(const std::string& location, Usage usage) override {
    auto uri = EDGE_TRY(object_uri(location));
    bool aes = usage.encrypt && !usage.sign && !usage.derive;
    EDGE_TRY_VOID(with_session(*m_, uri, [&](CK_SESSION_HANDLE s) -> Status {
      return make_secret(s, *uri.object, aes, nullptr);
    }));
    std::shared_ptr<SymmetricKey> key(new Pkcs11SymmetricKey(m_, uri));
    if (aes) {
      // Tokens without AES-GCM cannot serve AEAD: delete the key and let the caller fall back.
      std::string iv(12, '\0');
      if (auto probe = key->encrypt(iv, "", "probe"); !probe) {
        EDGE_TRY_VOID(destroy(uri, {CKO_SECRET_KEY}));
        return fail(ErrorKind::Unsupported, "PKCS#11 token cannot do AES-GCM: " + probe.error().message);
      }
    }
    return key;
  }

  Result<std::shared_ptr<SymmetricKey>> import_key(const std::string& location, const Secret& bytes,
                                                   Usage usage) override {
    auto uri = EDGE_TRY(object_uri(location));
    bool aes = usage.encrypt && !usage.sign && !usage.derive;
    if (aes && bytes.size() != 16 && bytes.size() != 24 && bytes.size() != 32)
      return invalid("parameter \"keyBytes\" has an invalid length for an AES key");
    EDGE_TRY_VOID(destroy(uri, {CKO_SECRET_KEY}));
    EDGE_TRY_VOID(with_session(*m_, uri, [&](CK_SESSION_HANDLE s) -> Status {
      return make_secret(s, *uri.object, aes, &bytes);
    }));
    return std::shared_ptr<SymmetricKey>(new Pkcs11SymmetricKey(m_, uri));
  }

  Status delete_key(const std::string& location) override {
    auto uri = EDGE_TRY(object_uri(location));
    return destroy(uri, {CKO_SECRET_KEY});
  }

 private:
  static Result<Pkcs11Uri> object_uri(const std::string& location) {
    auto uri = EDGE_TRY(parse_pkcs11_uri(location));
    if (!uri.object) return invalid("pkcs11 URI has no object: " + location);
    return uri;
  }

  Status destroy(const Pkcs11Uri& uri, std::initializer_list<CK_OBJECT_CLASS> classes) {
    return with_session(*m_, uri, [&](CK_SESSION_HANDLE s) -> Status {
      for (CK_OBJECT_CLASS cls : classes) {
        for (;;) {
          auto h = find_object(*m_, s, cls, *uri.object);
          if (!h) {
            if (h.error().kind == ErrorKind::NotFound) break;
            return fail(h.error());
          }
          CK_RV rv = m_->f()->C_DestroyObject(s, *h);
          if (rv != CKR_OK) return p11_fail("C_DestroyObject", rv);
        }
      }
      return {};
    });
  }

  Status generate(CK_SESSION_HANDLE s, const std::string& label, KeyPairAlgorithm algorithm) {
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = algorithm == KeyPairAlgorithm::Rsa4096 ? 4096 : 2048;
    CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    auto* lbl = const_cast<char*>(label.data());
    bool ec = algorithm == KeyPairAlgorithm::EcP256;
    std::vector<CK_ATTRIBUTE> pub = {
        {CKA_TOKEN, &yes, sizeof yes}, {CKA_PRIVATE, &no, sizeof no},
        {CKA_VERIFY, &yes, sizeof yes}, {CKA_LABEL, lbl, label.size()}};
    if (ec) {
      pub.push_back({CKA_EC_PARAMS, const_cast<char*>(crypto::kP256CurveOid.data()), crypto::kP256CurveOid.size()});
    } else {
      pub.push_back({CKA_MODULUS_BITS, &bits, sizeof bits});
      pub.push_back({CKA_PUBLIC_EXPONENT, exponent, sizeof exponent});
      pub.push_back({CKA_ENCRYPT, &yes, sizeof yes});
    }
    std::vector<CK_ATTRIBUTE> priv = {
        {CKA_TOKEN, &yes, sizeof yes},     {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes}, {CKA_EXTRACTABLE, &no, sizeof no},
        {CKA_SIGN, &yes, sizeof yes},      {CKA_LABEL, lbl, label.size()}};
    if (!ec) priv.push_back({CKA_DECRYPT, &yes, sizeof yes});
    CK_MECHANISM mech{ec ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
    CK_RV rv = m_->f()->C_GenerateKeyPair(s, &mech, pub.data(), pub.size(), priv.data(), priv.size(),
                                          &hpub, &hpriv);
    if (rv != CKR_OK) return p11_fail("C_GenerateKeyPair", rv);
    return {};
  }

  Status make_secret(CK_SESSION_HANDLE s, const std::string& label, bool aes, const Secret* bytes) {
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = aes ? CKK_AES : CKK_GENERIC_SECRET;
    CK_ULONG len = 32;
    std::vector<CK_ATTRIBUTE> t = {
        {CKA_CLASS, &cls, sizeof cls},        {CKA_KEY_TYPE, &type, sizeof type},
        {CKA_TOKEN, &yes, sizeof yes},        {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes},    {CKA_EXTRACTABLE, &no, sizeof no},
        {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
    if (aes) {
      t.push_back({CKA_ENCRYPT, &yes, sizeof yes});
      t.push_back({CKA_DECRYPT, &yes, sizeof yes});
    } else {
      t.push_back({CKA_SIGN, &yes, sizeof yes});
      t.push_back({CKA_VERIFY, &yes, sizeof yes});
    }
    CK_OBJECT_HANDLE h = 0;
    CK_RV rv;
    if (bytes) {
      t.push_back({CKA_VALUE, const_cast<unsigned char*>(bytes->data()), bytes->size()});
      rv = m_->f()->C_CreateObject(s, t.data(), t.size(), &h);
      if (rv != CKR_OK) return p11_fail("C_CreateObject", rv);
    } else {
      t.push_back({CKA_VALUE_LEN, &len, sizeof len});
      t.erase(t.begin());  // C_GenerateKey takes no CKA_CLASS from some tokens
      CK_MECHANISM mech{aes ? CKM_AES_KEY_GEN : CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
      rv = m_->f()->C_GenerateKey(s, &mech, t.data(), t.size(), &h);
      if (rv != CKR_OK) return p11_fail("C_GenerateKey", rv);
    }
    return {};
  }

  std::shared_ptr<Module> m_;
};

}  // namespace

Result<Pkcs11Uri> parse_pkcs11_uri(const std::string& text) {
  if (!text.starts_with("pkcs11:")) return invalid("not a pkcs11: URI");
  std::string_view rest(text);
  rest.remove_prefix(7);
  auto q = rest.find('?');
  std::string_view path = rest.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
  Pkcs11Uri uri;
  auto each = [&](std::string_view list, char sep, auto&& fn) -> edge::Status {
    while (!list.empty()) {
      auto p = list.find(sep);
      auto item = list.substr(0, p);
      list = p == std::string_view::npos ? std::string_view{} : list.substr(p + 1);
      if (item.empty()) continue;
      auto eq = item.find('=');
      if (eq == std::string_view::npos) return invalid("malformed pkcs11 URI attribute in " + text);
      auto value = edge::uri::percent_decode(item.substr(eq + 1));
      if (!value) return invalid("malformed percent-encoding in pkcs11 URI " + text);
      EDGE_TRY_VOID(fn(item.substr(0, eq), *value));
    }
    return {};
  };
  EDGE_TRY_VOID(each(path, ';', [&](std::string_view k, const std::string& v) -> edge::Status {
    if (k == "token") uri.token = v;
    else if (k == "object") uri.object = v;
    else if (k == "slot-id") {
      char* end = nullptr;
      unsigned long id = std::strtoul(v.c_str(), &end, 10);
      if (v.empty() || *end) return invalid("invalid slot-id in pkcs11 URI " + text);
      uri.slot_id = id;
    }
    return {};
  }));
  EDGE_TRY_VOID(each(query, '&', [&](std::string_view k, const std::string& v) -> edge::Status {
    if (k == "pin-value") uri.pin = v;
    else if (k == "pin-source") {
      std::string path_ = v.starts_with("file:") ? v.substr(5) : v;
      while (path_.starts_with("//")) path_.erase(0, 1);
      auto pin = edge::fs::read_file(path_, 4096);
      if (!pin) return invalid("could not read pin-source " + path_);
      while (!pin->empty() && (pin->back() == '\n' || pin->back() == '\r')) pin->pop_back();
      uri.pin = *pin;
    }
    return {};
  }));
  if (!uri.token && !uri.slot_id) return invalid("pkcs11 URI names neither a token nor a slot-id: " + text);
  return uri;
}

std::string pkcs11_uri_with_object(const std::string& base, const std::string& id) {
  auto q = base.find('?');
  std::string path = base.substr(0, q);
  std::string query = q == std::string::npos ? "" : base.substr(q);
  if (!path.ends_with(':') && !path.ends_with(';')) path += ';';
  return path + "object=" + edge::uri::percent_encode(id) + query;
}

Result<std::unique_ptr<Backend>> make_pkcs11_backend(const std::string& library_path,
                                                     const std::optional<std::string>& base_slot) {
  if (base_slot) EDGE_TRY(parse_pkcs11_uri(*base_slot));
  auto module = EDGE_TRY(Module::load(library_path));
  if (base_slot) {
    // Log in once at start-up, as upstream, so a wrong PIN or token fails early.
    auto uri = EDGE_TRY(parse_pkcs11_uri(*base_slot));
    std::lock_guard lock(module->mutex());
    EDGE_TRY(module->session(uri));
  }
  return std::unique_ptr<Backend>(new Pkcs11Backend(std::move(module)));
}

}  // namespace keyd
