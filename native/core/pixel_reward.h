// The rewards that read pixels directly (no model): the mean red excess and the mean brightness.
#pragma once

namespace hn {

enum class PixelReward { Redness = 0, Brightness = 1 };

}  // namespace hn
