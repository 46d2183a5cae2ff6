{
  "targets": [
    {
      "target_name": "hypernoise",
      "sources": [
        "native/core/activations.cc",
        "native/core/backends.cc",
        "native/core/buffer.cc",
        "native/core/errors.cc",
        "native/core/hypernet_layout.cc",
        "native/core/hypernetwork.cc",
        "native/core/optimizer.cc",
        "native/core/reward.cc",
        "native/core/sequential.cc",
        "native/core/trainer.cc",
        "native/core/tto.cc",
        "native/core/cpu/act_kernels.cc",
        "native/core/cpu/cpu_backend.cc",
        "native/core/cpu/gemm.cc",
        "native/core/cpu/gemm_avx2.cc",
        "native/core/cpu/gemm_avx512.cc",
        "native/core/cpu/hypernet.cc",
        "native/core/cpu/isa.cc",
        "native/core/cpu/kl.cc",
        "native/core/cpu/noise.cc",
        "native/core/cpu/optim.cc",
        "native/core/cpu/peak_probe.cc",
        "native/core/cpu/rewards.cc",
        "native/core/cpu/sequential.cc",
        "native/core/cpu/threadpool.cc",
        "native/core/cpu/tto.cc",
        "native/addon/addon.cc",
        "native/addon/addon_util.cc",
        "native/addon/HypernetworkWrap.cc",
        "native/addon/ModelWrap.cc",
        "native/addon/RenoWrap.cc",
        "native/addon/RewardWrap.cc",
        "native/addon/TrainerWrap.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O3", "-ffp-contract=off", "-fno-math-errno"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CFLAGS": ["-ffp-contract=off"]
      }
    }
  ]
}
