#pragma once
// Readable type names for error messages ("std::vector<int>", not "St6vectorIiSaIiEE").

#include <string>
#include <typeinfo>

namespace mpipool::detail {

std::string demangle(const char* mangled);

template <class T>
std::string type_name() {
  return demangle(typeid(T).name());
}

}  // namespace mpipool::detail
