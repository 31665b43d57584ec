// SPDX-License-Identifier: Apache-2.0
#include "jni_budget.hpp"

#include <new>

#include "jni_env.hpp"
#include "jni_errors.hpp"

namespace nativepool::jni {

std::shared_ptr<JavaCharge> JavaCharge::create(JNIEnv* env, jobject charge) noexcept {
  JavaVM* vm = nullptr;
  if (env->GetJavaVM(&vm) != JNI_OK) {
    throw_status(env, fail(Status::kInternal, "cannot reach the JVM for a pool's budget"), nullptr, 0);
    return nullptr;
  }
  jclass cls = env->GetObjectClass(charge);
  jmethodID charge_method = env->GetMethodID(cls, "charge", "(J)Z");
  jmethodID discharge_method = charge_method == nullptr ? nullptr : env->GetMethodID(cls, "discharge", "(J)V");
  env->DeleteLocalRef(cls);
  if (discharge_method == nullptr) return nullptr;  // NoSuchMethodError is pending
  jobject global = env->NewGlobalRef(charge);
  if (global == nullptr) return nullptr;  // OutOfMemoryError is pending
  try {
    return std::shared_ptr<JavaCharge>(new JavaCharge(vm, global, charge_method, discharge_method));
  } catch (const std::bad_alloc&) {
    env->DeleteGlobalRef(global);
    throw_status(env, fail(Status::kInternal, "out of host memory for a pool's budget"), nullptr, 0);
    return nullptr;
  }
}

JavaCharge::~JavaCharge() {
  if (JNIEnv* env = current_env(vm_); env != nullptr) env->DeleteGlobalRef(charge_);
}

Status JavaCharge::charge(std::size_t bytes) const noexcept {
  JNIEnv* env = current_env(vm_);
  // Java code must not run with an exception pending; the pool call that grows then fails.
  if (env == nullptr || env->ExceptionCheck()) {
    return fail(Status::kInternal, "cannot call the JVM to charge %zu bytes to the pool's budget", bytes);
  }
  const jboolean taken = env->CallBooleanMethod(charge_, charge_method_, static_cast<jlong>(bytes));
  if (env->ExceptionCheck()) {
    env->ExceptionDescribe();  // prints and clears: the pool call reports the failure
    return fail(Status::kInternal, "the pool's budget failed to charge %zu bytes", bytes);
  }
  return taken == JNI_TRUE ? Status::kOk : fail(Status::kOutOfPoolMemory, "the pool's budget refused them");
}

void JavaCharge::discharge(std::size_t bytes) const noexcept {
  JNIEnv* env = current_env(vm_);
  // A discharge that cannot run leaves the bytes charged until the pool closes, which gives back the rest.
  if (env == nullptr || env->ExceptionCheck()) return;
  env->CallVoidMethod(charge_, discharge_method_, static_cast<jlong>(bytes));
  if (env->ExceptionCheck()) env->ExceptionDescribe();  // prints and clears: the region went back regardless
}

Status BudgetedBackend::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  if (const Status refused = charge_->charge(size); refused != Status::kOk) return refused;
  const Status status = inner().allocate(size, alignment, out);
  if (status != Status::kOk) charge_->discharge(size);
  return status;
}

void BudgetedBackend::deallocate(void* region, std::size_t size, std::size_t alignment) noexcept {
  inner().deallocate(region, size, alignment);
  charge_->discharge(size);
}

}  // namespace nativepool::jni
