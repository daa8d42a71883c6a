// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace vigie {

/// Completion token for `co_await op(kNoThrow)`: the error code comes back as the first tuple
/// element instead of being thrown. On the probe path an error is a result, and an exception per
/// failed connect or cancelled timer costs more than the operation itself.
inline constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace vigie
