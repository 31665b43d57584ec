// SPDX-License-Identifier: Apache-2.0
/// @file jni_budget.hpp
/// @brief A pool's MemoryBudget charge, taken where its regions pass: a
/// backend decorator asks the pool's Java BudgetCharge before each region is
/// mapped and tells it after each one went back. Only growth, trim and
/// destroy map or unmap regions, so no allocation or free that the pool
/// serves from memory it holds calls Java, and the budget holds exactly the
/// pool's reserved bytes. The core needs no hook of its own.
#pragma once

#include <jni.h>

#include <cstddef>
#include <memory>
#include <utility>

#include "nativepool/backend.hpp"
#include "nativepool/status.hpp"

namespace nativepool::jni {

/// The org.nativepool.internal.BudgetCharge of one pool, shared by the
/// backends of its nodes; the global reference goes with the last of them.
class JavaCharge {
 public:
  /// The charge for @p charge, or null with an exception pending.
  [[nodiscard]] static std::shared_ptr<JavaCharge> create(JNIEnv* env, jobject charge) noexcept;

  JavaCharge(const JavaCharge&) = delete;
  JavaCharge& operator=(const JavaCharge&) = delete;
  ~JavaCharge();

  /// kOk when the budget took @p bytes; kOutOfPoolMemory when it refused
  /// (the Java side keeps its refusal for the pool call's exception).
  [[nodiscard]] Status charge(std::size_t bytes) const noexcept;
  void discharge(std::size_t bytes) const noexcept;

 private:
  JavaCharge(JavaVM* vm, jobject charge, jmethodID charge_method, jmethodID discharge_method) noexcept
      : vm_(vm), charge_(charge), charge_method_(charge_method), discharge_method_(discharge_method) {}

  JavaVM* vm_;
  jobject charge_;  // a global reference
  jmethodID charge_method_;
  jmethodID discharge_method_;
};

/// Charges each region to the pool's budget before the inner backend maps it
/// (a refusal never reaches the inner backend), and gives the charge back
/// once the region went back.
class BudgetedBackend final : public BackendAdaptor {
 public:
  BudgetedBackend(std::shared_ptr<Backend> inner, std::shared_ptr<const JavaCharge> charge) noexcept
      : BackendAdaptor(std::move(inner)), charge_(std::move(charge)) {}

  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override;
  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override;

 private:
  std::shared_ptr<const JavaCharge> charge_;
};

}  // namespace nativepool::jni
