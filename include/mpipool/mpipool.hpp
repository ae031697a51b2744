#pragma once
// Everything a user of mpipool needs: #include <mpipool/mpipool.hpp>.

#include "mpipool/async_result.hpp"
#include "mpipool/environment.hpp"
#include "mpipool/errors.hpp"
#include "mpipool/imap.hpp"
#include "mpipool/options.hpp"
#include "mpipool/pool.hpp"
#include "mpipool/serialization.hpp"
#include "mpipool/task.hpp"
