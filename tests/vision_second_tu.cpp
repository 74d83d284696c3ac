// A second translation unit of test_image that also includes <resnet/vision.hpp>: the
// program links only if everything the header defines is inline.
#if __has_include(<jpeglib.h>) && __has_include(<png.h>)
#include "resnet/vision.hpp"

namespace vision_test {

resnet::Image decode_in_second_unit(const std::uint8_t* bytes, std::size_t size) {
  return resnet::decode_image(bytes, size, "second-unit");
}

}  // namespace vision_test
#endif
